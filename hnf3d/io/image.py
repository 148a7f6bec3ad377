"""Reading images and turning any common image form into 8-bit RGB: one reader for the datasets and the pipeline.

    img = read_image("photo.png")          # decoded PIL image; size checked from the header before decoding
    rgb = to_rgb8(img, name="photo.png")   # PIL 'RGB' image; alpha over white, 16-bit scaled to 8-bit

What is accepted (`to_rgb8`), and how it becomes 8-bit RGB:
- PIL images of every mode PIL can convert. Transparent pixels become white (the training renders' background).
  16-bit grayscale (modes I;16, I;16B, ...) is scaled by 65535; mode I (32-bit integers, how PIL holds some
  16-bit files) must hold values in [0, 65535] and is scaled likewise; mode F (32-bit float) follows the float
  rule below.
- numpy arrays (H, W), (H, W, 1) (gray), (H, W, 3) (RGB) or (H, W, 4) (RGBA) of dtype
  uint8 (0-255), uint16 (0-65535: 16-bit images), bool (False black, True white) or float in [0, 1].
  Float pixels outside [0, 1] (beyond half an 8-bit level), NaN/Inf, other integer types (int64 arrays from
  Python lists are ambiguous: 0-255 or 0-65535?), complex and object arrays are refused with a ValueError that
  names the image and says how to convert it.
Every image holds at most MAX_IMAGE_PIXELS pixels: a file's header is checked before its pixels are decoded, so a
small file that declares a huge image (a "decompression bomb") is refused at once, with one line naming it.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import FileFormatError

__all__ = ["MAX_IMAGE_PIXELS", "read_image", "to_rgb8"]

#: the largest image accepted, in pixels (8192 x 8192, 67 megapixels: 256 MB as RGBA). The models see 224 x 224 or
#: less; larger photographs should be downscaled first.
MAX_IMAGE_PIXELS = 8192 * 8192

# half an 8-bit level: float pixels this far outside [0, 1] are rounding noise and are clipped, further is an error
_FLOAT_SLACK = 0.5 / 255
_16BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def _too_large(name: str, width: int, height: int) -> ValueError:
    return ValueError(f"{name}: the image is {width} x {height} = {width * height} pixels, more than the "
                      f"{MAX_IMAGE_PIXELS} accepted (hnf3d.io.image.MAX_IMAGE_PIXELS); downscale it first")


def read_image(path: str | os.PathLike):
    """The image file at `path`, decoded into memory (a PIL image in the file's own mode).

    The header's size is checked against MAX_IMAGE_PIXELS before any pixel is decoded. Raises FileNotFoundError
    for a missing file and ValueError (FileFormatError for unreadable content) whose message starts with the
    path: a directory, an unreadable or truncated file, or an image larger than the limit."""
    from PIL import Image, UnidentifiedImageError

    name = os.fspath(path)
    if not name:
        raise ValueError("image path: empty; expected an image file")
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: image file not found")
    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory, not an image file")
    try:
        with warnings.catch_warnings():
            # PIL warns above its own limit and raises at twice it; ours is lower and checked before load()
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(name) as img:
                width, height = img.size
                if width * height <= MAX_IMAGE_PIXELS:
                    img.load()
                    decoded = img.copy()
    except Image.DecompressionBombError as exc:  # beyond PIL's own hard limit: the header alone gave it away
        raise ValueError(f"{name}: the image's header declares too many pixels, refused before decoding (at most "
                         f"{MAX_IMAGE_PIXELS}: hnf3d.io.image.MAX_IMAGE_PIXELS; PIL: {exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, ValueError) as exc:
        problem = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
        raise FileFormatError(name, f"not a readable image ({problem})") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(name, width, height)
    return decoded


def _pixels_to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    """Array pixels of an accepted dtype (see the module docstring) -> uint8, same shape."""
    kind, dt = arr.dtype.kind, arr.dtype
    if dt == np.uint8:
        return arr
    if kind == "b":
        return arr.astype(np.uint8) * 255
    if kind == "u" and dt.itemsize == 2:
        return (arr.astype(np.float32) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    if kind == "f":
        a = arr.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: pixels contain NaN or Inf")
        lo, hi = float(a.min()), float(a.max())
        if lo < -_FLOAT_SLACK or hi > 1 + _FLOAT_SLACK:
            raise ValueError(f"{name}: float pixels must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
                             f"(divide 0-255 values by 255, or pass a uint8 array)")
        return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
    raise ValueError(f"{name}: expected pixels of dtype uint8 (0-255), uint16 (0-65535), bool or float in [0, 1], "
                     f"got {dt} (convert with .astype(np.uint8) or scale to float in [0, 1])")


def _array_to_pil(arr: np.ndarray, name: str):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) pixels -> 8-bit PIL image (L, RGB or RGBA)."""
    from PIL import Image

    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected real-valued pixels, got an array of dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or 0 in arr.shape:
        raise ValueError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}")
    if arr.shape[0] * arr.shape[1] > MAX_IMAGE_PIXELS:
        raise _too_large(name, arr.shape[1], arr.shape[0])
    return Image.fromarray(np.ascontiguousarray(_pixels_to_uint8(arr, name)))


def _wide_mode_to_pil(img, name: str):
    """A PIL image with more than 8 bits per pixel (16-bit, mode I or F) -> 8-bit 'L' by the module's rules."""
    arr = np.asarray(img)
    if img.mode == "I":  # 32-bit ints: PIL's form of some 16-bit files; anything else has no known white level
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 65535:
            raise ValueError(f"{name}: 32-bit integer (mode I) pixels must lie in [0, 65535] (16-bit levels), got "
                             f"values in [{lo}, {hi}]")
        arr = arr.astype(np.uint16)
    elif img.mode in _16BIT_MODES:
        arr = arr.astype(np.uint16)  # native byte order, whatever the file's
    return _array_to_pil(arr, name)


def to_rgb8(image, *, name: str = "image"):
    """An 8-bit RGB PIL image from a PIL image of any mode or a pixel array (see the module docstring for what is
    accepted); transparent pixels become white. Raises ValueError naming `name` for anything else."""
    from PIL import Image

    if isinstance(image, Image.Image):
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise _too_large(name, width, height)
        if width * height == 0:
            raise ValueError(f"{name}: the image is empty ({width} x {height} pixels)")
        pil = _wide_mode_to_pil(image, name) if image.mode in (*_16BIT_MODES, "I", "F") else image
    else:
        try:
            arr = np.asarray(image)
        except Exception as exc:  # ragged lists and other objects numpy cannot turn into an array
            raise ValueError(f"{name}: expected a PIL image or a pixel array, got {type(image).__name__} "
                             f"({exc})") from None
        pil = _array_to_pil(arr, name)
    if pil.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") or "transparency" in pil.info:
        pil = pil.convert("RGBA")
        white = Image.new("RGBA", pil.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(white, pil)
    return pil.convert("RGB")
