"""The hypernetwork field Phi(t, c) -> theta (docs/design.md section 1).

    Phi(t, c) = theta_0 + (t / T) * Phi'(t, c)

so Phi(0, c) == theta_0 exactly, whatever Phi' has learned. Phi' is a DiT-style transformer over the task
network's parameter tensors: one token per tensor of the `ParamLayout` (tensors larger than `max_token_size`
are split into near-equal contiguous chunks, one token each), a learned embedding per token, `depth` blocks of
multi-head self-attention + MLP with adaLN-Zero modulation by a conditioning vector (sinusoidal embedding of t
-> MLP, plus a linear projection of the condition code c), and one zero-initialised linear head per token that
decodes it to its chunk of the flat weight vector. Zero heads make Phi' == 0 (so Phi(t, c) == theta_0 for all t)
at initialisation. Optionally (cond_tokens=True) condition tokens from the encoder (per-point or spatial
features) are projected and prepended to the sequence, so parameter tokens attend to them; their outputs are
discarded.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .task_network import ParamLayout


def t_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the step t is carried in next to tensors of `dtype`: float32 at least (float64 stays float64).

    bf16 / fp16 cannot tell t from t + 1 above 256 / 2048, so t, t / T and the sinusoidal embedding never take
    the (possibly reduced) dtype of the condition code or of the parameters.
    """
    return torch.promote_types(dtype, torch.float32)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of t (B,) -> (B, dim): [cos(t w_k), sin(t w_k)] for half = dim // 2 frequencies
    w_k = max_period^(-k / (half - 1)), geometrically spaced from 1 down to 1 / max_period (periods 2 pi .. 2 pi
    10^4), applied to the raw step t in [0, T]. An odd dim gets one zero column appended.

    Computed and returned in `t_dtype(t.dtype)` (float32, or float64 for a float64 t): the caller casts the
    embedding, never t, to a reduced precision.
    """
    dtype = t_dtype(t.dtype) if t.is_floating_point() else torch.float32
    half = dim // 2
    if half == 0:
        return torch.zeros(t.shape[0], dim, dtype=dtype, device=t.device)
    k = torch.arange(half, dtype=dtype, device=t.device)
    freqs = torch.exp(-math.log(max_period) * k / max(half - 1, 1))
    args = t.to(dtype)[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # x (B, S, W); shift, scale (B, W)
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, W = x.shape
        qkv = self.qkv(x).view(B, S, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, S, d)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, H, S, d)
        return self.proj(y.transpose(1, 2).reshape(B, S, W))


class _DiTBlock(nn.Module):
    """x + gate_a * Attn(mod(LN(x))), then x + gate_m * MLP(mod(LN(x))); shift/scale/gate from the conditioning
    vector through SiLU + Linear, that Linear zero-initialised (adaLN-Zero: every block starts as the identity)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = _Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.adaLN_modulation[1].weight)
        nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        sh_a, sc_a, g_a, sh_m, sc_m, g_m = self.adaLN_modulation(cond).chunk(6, dim=-1)
        x = x + g_a[:, None, :] * self.attn(_modulate(self.norm1(x), sh_a, sc_a))
        x = x + g_m[:, None, :] * self.mlp(_modulate(self.norm2(x), sh_m, sc_m))
        return x


def _n_chunks(numel: int, max_token_size: int) -> int:
    """Tokens of a tensor of `numel` elements: ceil(numel / max_token_size), at least 1 (integer arithmetic)."""
    return max(1, -(-numel // max_token_size))


def _token_table(layout: ParamLayout, max_token_size: int) -> list[tuple[str, int, int]]:
    """(name, offset, length) per token: each tensor split into ceil(numel / max_token_size) near-equal
    contiguous chunks (lengths differ by at most 1), in layout order, covering [0, P) exactly once."""
    table = []
    for e in layout:
        n = _n_chunks(e.numel, max_token_size)
        base, extra = divmod(e.numel, n)
        off = e.offset
        for i in range(n):
            length = base + (1 if i < extra else 0)
            table.append((e.name if n == 1 else f"{e.name}[{i}/{n}]", off, length))
            off += length
    return table


class HyperNetField(nn.Module):
    """Phi(t, c) = theta_0 + (t / T) * Phi'(t, c): condition code c and convergence step t -> task weights theta.

    Args:
        layout: the task network's `ParamLayout` (TaskNetwork.param_layout()); P = layout.total.
        theta_0: Tensor (P,), the fixed initialisation (TaskNetwork.theta_0(seed)); a persistent buffer (saved in
            the state_dict / checkpoints). Its dtype is the output dtype.
        c_dim: size of the condition code c (B, c_dim).
        T: the final step (an int >= 1); t ranges over [0, T] and Phi(T, c) is the inference output.
        width, depth, heads: transformer width, number of blocks, attention heads (width % heads == 0).
        max_token_size: tensors with more elements are split into ceil(numel / max_token_size) chunk tokens.
        cond_tokens: if True, `forward` also takes condition tokens (B, K, token_dim), projected to `width` and
            prepended to the parameter tokens (attended to, outputs discarded).
        token_dim: feature size of those condition tokens (default: c_dim).

    Attributes: `token_table` ((name, offset, length) per parameter token; chunks in order, covering [0, P)
    exactly once), `heads_out` (one zero-initialised nn.Linear(width, length_j) per token, in token order), `T`.

    Parameter count with the default task network (P = 36,737; 14 tokens at max_token_size 4096), c_dim 256,
    width 256, depth 4, heads 4: 14,507,905 = output heads 9,441,409 (257 * P) + 4 blocks 4,733,952 (1,183,488
    each, 394,752 of it adaLN) + t-MLP 131,584 + c projection 65,792 + final modulation 131,584 + token
    embeddings 3,584; cond_tokens=True (token_dim 256) adds 65,792.
    """

    def __init__(self, layout: ParamLayout, theta_0: torch.Tensor, c_dim: int, T: int, width: int = 256,
                 depth: int = 4, heads: int = 4, max_token_size: int = 4096, cond_tokens: bool = False,
                 token_dim: int | None = None):
        super().__init__()
        if not isinstance(layout, ParamLayout):
            raise TypeError(f"layout: expected a ParamLayout, got {type(layout).__name__}")
        if len(layout) == 0 or layout.total == 0:
            raise ValueError("layout: expected at least one parameter tensor with elements")
        P = layout.total
        if not isinstance(theta_0, torch.Tensor):
            raise TypeError(f"theta_0: expected a torch tensor, got {type(theta_0).__name__}")
        if theta_0.shape != (P,) or not theta_0.is_floating_point():
            raise ValueError(f"theta_0: expected a floating tensor of shape (P,) = ({P},) (the layout's total), "
                             f"got {theta_0.dtype} {tuple(theta_0.shape)}")
        for name, v in (("c_dim", c_dim), ("T", T), ("width", width), ("depth", depth), ("heads", heads),
                        ("max_token_size", max_token_size)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (0 if name == "depth" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        if width % heads:
            raise ValueError(f"width: expected a multiple of heads ({heads}), got {width}")
        token_dim = c_dim if token_dim is None else token_dim
        if isinstance(token_dim, bool) or not isinstance(token_dim, numbers.Integral) or token_dim < 1:
            raise ValueError(f"token_dim: expected a positive integer, got {token_dim!r}")

        self.layout = layout
        self.c_dim, self.T, self.width, self.depth, self.n_heads = int(c_dim), int(T), int(width), int(depth), \
            int(heads)
        self.max_token_size, self.cond_tokens, self.token_dim = int(max_token_size), bool(cond_tokens), \
            int(token_dim)
        self.register_buffer("theta_0", theta_0.detach().clone(), persistent=True)

        self.token_table: tuple[tuple[str, int, int], ...] = tuple(_token_table(layout, self.max_token_size))
        n_tok = len(self.token_table)
        embed = torch.empty(n_tok, width)
        if not embed.is_meta:  # meta (hnf3d.models.build's size check): shapes only; sampling would import sympy
            embed.normal_().mul_(0.02)  # bitwise torch.randn(n_tok, width) * 0.02
        self.token_embed = nn.Parameter(embed)

        # conditioning vector: MLP(sinusoid(t)) + Linear(c)
        self.t_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.c_proj = nn.Linear(c_dim, width)
        self.token_proj = nn.Linear(self.token_dim, width) if cond_tokens else None

        self.blocks = nn.ModuleList(_DiTBlock(width, heads) for _ in range(depth))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        nn.init.zeros_(self.final_modulation[1].weight)
        nn.init.zeros_(self.final_modulation[1].bias)
        self.heads_out = nn.ModuleList(nn.Linear(width, length) for _, _, length in self.token_table)
        for head in self.heads_out:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.to(dtype=theta_0.dtype)

    @property
    def n_tokens(self) -> int:
        """Number of parameter tokens (len(token_table))."""
        return len(self.token_table)

    @staticmethod
    def count_tokens(numels: "list[int]", max_token_size: int) -> int:
        """Parameter tokens of a field over tensors of these element counts, without building it."""
        return sum(_n_chunks(n, max_token_size) for n in numels)

    def config(self) -> dict:
        """Constructor arguments besides layout and theta_0, as plain data (for checkpoints)."""
        return {"c_dim": self.c_dim, "T": self.T, "width": self.width, "depth": self.depth, "heads": self.n_heads,
                "max_token_size": self.max_token_size, "cond_tokens": self.cond_tokens,
                "token_dim": self.token_dim}

    def check_inputs(self, t, c, tokens=None) -> None:
        """Check the arguments of `forward` / `delta` and raise TypeError / ValueError naming the bad one.

        `forward` does not call this: it runs several times per training step on inputs that the objective or
        the Reconstructor have already checked. Call it once where t, c or tokens come from outside.
        """
        if not isinstance(c, torch.Tensor):
            raise TypeError(f"c: expected a torch tensor, got {type(c).__name__}")
        if c.ndim != 2 or c.shape[1] != self.c_dim:
            raise ValueError(f"c: expected shape (B, c_dim) = (B, {self.c_dim}), got {tuple(c.shape)}")
        B = c.shape[0]
        device = self.theta_0.device
        if not c.is_floating_point() or c.device != device:
            raise TypeError(f"c: expected a floating tensor on {device} (the field's), got {c.dtype} on {c.device}")
        if isinstance(t, bool):
            raise TypeError("t: expected a number or a tensor of shape (B,), got bool")
        if isinstance(t, numbers.Real):
            self._check_t_number(t)
        elif isinstance(t, torch.Tensor):
            if t.ndim != 0 and tuple(t.shape) != (B,):
                raise ValueError(f"t: expected shape (B,) = ({B},) (B from c) or a scalar, got {tuple(t.shape)}")
            if t.dtype == torch.bool or t.is_complex():
                raise TypeError(f"t: expected an integer or floating tensor, got dtype {t.dtype}")
        else:
            raise TypeError(f"t: expected a number or a torch tensor, got {type(t).__name__}")
        if self.cond_tokens:
            if tokens is None:
                raise ValueError("tokens: this field was built with cond_tokens=True; pass tokens (B, K, token_dim)")
            if not isinstance(tokens, torch.Tensor):
                raise TypeError(f"tokens: expected a torch tensor, got {type(tokens).__name__}")
            if tokens.ndim != 3 or tokens.shape[0] != B or tokens.shape[2] != self.token_dim:
                raise ValueError(f"tokens: expected shape (B, K, token_dim) = ({B}, K, {self.token_dim}), "
                                 f"got {tuple(tokens.shape)}")
            if not tokens.is_floating_point() or tokens.device != device:
                raise TypeError(f"tokens: expected a floating tensor on {device} (the field's), "
                                f"got {tokens.dtype} on {tokens.device}")
        elif tokens is not None:
            raise ValueError("tokens: this field was built with cond_tokens=False; it takes no condition tokens")

    def _check_t_number(self, t: numbers.Real) -> None:
        if not (0 <= t <= self.T):
            raise ValueError(f"t: expected a value in [0, T] = [0, {self.T}], got {t!r}")

    def _prepare(self, t, c: torch.Tensor, tokens: torch.Tensor | None):
        """(t (B,) in t_dtype, c and tokens in the field's dtype): conversions only, no checks of tensors (see
        `check_inputs`). A Python number t is range-checked (free: no device synchronisation)."""
        dtype, device = self.theta_0.dtype, self.theta_0.device
        B = c.shape[0]
        if isinstance(t, torch.Tensor):
            t = t.to(device=device, dtype=t_dtype(dtype))
            t = t.expand(B) if t.ndim == 0 else t
        else:
            self._check_t_number(t)
            t = torch.full((B,), float(t), dtype=t_dtype(dtype), device=device)
        if self.cond_tokens != (tokens is not None):  # a wrong call, not a wrong value: never silently ignored
            raise ValueError(f"tokens: this field was built with cond_tokens={self.cond_tokens}; "
                             f"{'pass' if self.cond_tokens else 'it takes no'} condition tokens (B, K, token_dim)")
        return t, c.to(dtype), None if tokens is None else tokens.to(dtype)

    def delta(self, t, c: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Phi'(t, c) (B, P): the transformer's raw output (before the t / T factor). Arguments as `forward`."""
        return self._delta(*self._prepare(t, c, tokens))

    def _delta(self, t: torch.Tensor, c: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        B = c.shape[0]
        emb = timestep_embedding(t, self.width).to(c.dtype)  # t itself stays in t_dtype (float32 at least)
        cond = self.t_mlp(emb) + self.c_proj(c)  # (B, W)
        x = self.token_embed.unsqueeze(0).expand(B, -1, -1)  # (B, n_tok, W)
        n_extra = 0
        if tokens is not None:
            n_extra = tokens.shape[1]
            x = torch.cat([self.token_proj(tokens), x], dim=1)
        for block in self.blocks:
            x = block(x, cond)
        shift, scale = self.final_modulation(cond).chunk(2, dim=-1)
        x = _modulate(self.final_norm(x[:, n_extra:]), shift, scale)  # (B, n_tok, W)
        # token j's head writes flat[offset_j : offset_j + length_j]; tokens are in offset order, so concatenate
        return torch.cat([head(x[:, j]) for j, head in enumerate(self.heads_out)], dim=-1)

    def forward(self, t, c: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """theta = Phi(t, c) = theta_0 + (t / T) * Phi'(t, c), shape (B, P), in the field's dtype.

        t: Tensor (B,) of integer or float steps in [0, T], a 0-d tensor or a Python number (broadcast to B).
            Kept in float32 at least (`t_dtype`) whatever the field's or c's dtype, so t and t + 1 stay distinct.
            Tensor values are not range-checked (that would synchronise the device); Python numbers are.
        c: floating Tensor (B, c_dim), the condition code, on the field's device (cast to the field's dtype, so
            e.g. a bf16 code from an autocast encoder is accepted).
        tokens: floating Tensor (B, K, token_dim), required iff the field was built with cond_tokens=True (cast
            like c).
        Shapes, dtypes and devices are not checked here (this runs several times per training step): use
        `check_inputs` on arguments from outside.
        """
        t, c, tokens = self._prepare(t, c, tokens)
        d = self._delta(t, c, tokens)
        return (self.theta_0 + (t / self.T)[:, None] * d).to(self.theta_0.dtype)

    def extra_repr(self) -> str:
        return f"P={self.layout.total}, tokens={self.n_tokens}, T={self.T}, c_dim={self.c_dim}, width={self.width}, " \
               f"depth={self.depth}, heads={self.n_heads}, cond_tokens={self.cond_tokens}"
