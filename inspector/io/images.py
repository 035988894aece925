"""An uploaded image (PNG, JPEG, …) as one sample of a model's image input, checked at the edge.

Pillow decodes the bytes (it refuses images whose declared size is above its
decompression-bomb limit, and ours, ``max_data_bytes``, is checked on the size its
header declares, before any pixel is decoded); the image is converted to the input's channels (1: grey, 3: RGB), resized
bilinearly to the input's height and width when they are fixed, and its 0..255
values mapped to the range the model expects (``scale``: ``"0..1"``, ``"-1..1"`` or
``"0..255"``; Keras's own ``preprocess_input`` functions differ by model, so the
choice is the caller's).

Example:
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.fromarray(np.full((4, 6, 3), 255, np.uint8)).save(buffer, format="PNG")
    >>> x = read_image(buffer.getvalue(), (None, 8, 8, 3), scale="-1..1")
    >>> x.shape, float(x.min()), float(x.max())
    ((1, 8, 8, 3), 1.0, 1.0)
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from inspector.errors import InputDataError, LimitExceededError
from inspector.graph import Shape, format_shape
from inspector.limits import format_bytes, get_limits

__all__ = ["read_image", "IMAGE_SCALES", "IMAGE_SUFFIXES"]

IMAGE_SCALES = ("0..1", "-1..1", "0..255")
IMAGE_SUFFIXES = ("png", "jpg", "jpeg", "bmp", "gif", "webp")


def read_image(data: bytes, shape: Shape, *, scale: str = "0..1") -> np.ndarray:
    """The image in ``data`` as a float32 batch of one, shaped ``(1, height, width, channels)`` for ``shape``.

    Raises:
        InputDataError: not an image Pillow can read, an input that is not an image (rank 4, 1 or 3 channels),
            or an unknown ``scale``.
        LimitExceededError: the decoded pixels are above ``max_data_bytes``.
    """
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 4 or shape[3] not in (1, 3):
        raise InputDataError("This model's input is not an image (samples, height, width, 1 or 3 channels).",
                             received=f"input shape {format_shape(shape)}",
                             fix="Upload the data as .npy, .npz or .csv instead.")
    if scale not in IMAGE_SCALES:
        raise InputDataError("Unknown pixel scale.", received=f"scale={scale!r}", fix=f"Use one of {IMAGE_SCALES}.")
    limit = get_limits().max_data_bytes
    try:
        with Image.open(io.BytesIO(data)) as image:
            declared = image.size[0] * image.size[1] * 4 * 4  # decoded as up to 4 channels before conversion
            if declared > limit:  # checked on the header's size, before the pixels are decoded
                raise LimitExceededError(
                    f"The image is {image.size[0]}x{image.size[1]} pixels ({format_bytes(declared)} decoded), "
                    f"above the limit max_data_bytes = {format_bytes(limit)}.", received=f"{len(data):,} bytes",
                    fix="Upload a smaller image, or raise the limit with inspector.set_limits(max_data_bytes=...).")
            pixels = _convert(image, shape)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise InputDataError("The file is not an image that can be read.", received=f"{len(data):,} bytes: {e}",
                             fix="Upload a PNG or JPEG image, or the data as .npy.") from e
    values = pixels.astype(np.float32)
    if scale == "0..1":
        values /= 255.0
    elif scale == "-1..1":
        values = values / 127.5 - 1.0
    return values[None]


def _convert(image: Any, shape: Shape) -> np.ndarray:
    from PIL import Image

    image = image.convert("L" if shape[3] == 1 else "RGB")
    height, width = shape[1], shape[2]
    if height is not None and width is not None and image.size != (width, height):
        image = image.resize((int(width), int(height)), Image.Resampling.BILINEAR)
    pixels = np.asarray(image)
    return pixels[..., None] if pixels.ndim == 2 else pixels
