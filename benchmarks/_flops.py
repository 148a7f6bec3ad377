"""FLOPs of a piece of torch code, counted with torch.utils.flop_counter's formulas; shared by the benchmarks."""
from __future__ import annotations

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["FlopCount"]


class FlopCount(TorchDispatchMode):
    """Sums torch.utils.flop_counter's formulas (matmuls, convolutions, attention) over every op run inside it:

        with FlopCount() as counter:
            step()
        counter.total   # FLOPs, forward and backward

    FlopCounterMode itself cannot count a gradient-matching step: its module tracker asserts on the field calls
    made under torch.no_grad (the stop-gradient targets). Its formulas are the ones used here."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out
