"""Image files as arrays and back: decoding upright into arrays of the file's own kind, and
encoding in a chosen format.

Pixels keep their kind: grayscale stays grayscale, alpha is kept apart (the augmentation moves
it as a mask), 16-bit images stay 16-bit, and EXIF orientation is applied on decoding. Plain
8-bit JPEGs, the common photo, go through OpenCV (the same pixels and bytes as Pillow, faster);
everything else through Pillow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Pillow format per file extension, and the pixel modes each format can hold.
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
EXTENSION_OF = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif"}
MODES_OF_FORMAT = {
    "PNG": {"L", "LA", "RGB", "RGBA", "I;16"},
    "JPEG": {"L", "RGB"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"L", "RGB"},
    "TIFF": {"L", "LA", "RGB", "RGBA", "I;16"},
}
SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95, "method": 4}}
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Pixels:
    """An image as arrays: color or gray (uint8 or uint16) and an optional alpha channel."""

    image: np.ndarray
    alpha: np.ndarray | None
    note: str | None = None

    @property
    def mode(self) -> str:
        if self.image.dtype == np.uint16:
            return "I;16"
        gray = self.image.ndim == 2
        if self.alpha is None:
            return "L" if gray else "RGB"
        return "LA" if gray else "RGBA"


def load_pixels(path: Path, /) -> Pixels:
    """Decode a file upright (EXIF orientation applied) into arrays of its own kind.

    An animated file (GIF, WebP, APNG) gives its first frame, as Pillow, torchvision and Keras
    loaders read it; the note says so.
    """
    data = path.read_bytes()
    components = plain_jpeg_components(data)
    if components is not None:
        # The common photo: an 8-bit gray or color JPEG without EXIF/XMP (so upright).
        # OpenCV's decoder gives the same pixels as Pillow's (both libjpeg-turbo; tested)
        # in about 60% of the time. Everything else takes Pillow's path.
        return Pixels(_decode_jpeg(data, gray=components == 1), None)
    with Image.open(io.BytesIO(data)) as opened:
        pixels = pillow_pixels(opened)
        if int(getattr(opened, "n_frames", 1) or 1) > 1:
            first = "animated image: first frame used"
            note = f"{first}, {pixels.note}" if pixels.note else first
            pixels = Pixels(pixels.image, pixels.alpha, note)
        return pixels


# JPEG markers (ITU T.81 B.1.1.3): start of frame, Huffman/arithmetic coding variants.
_SOF_PLAIN = {0xC0, 0xC1, 0xC2}
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def plain_jpeg_components(data: bytes, /) -> int | None:
    """1 or 3 for an 8-bit gray or color JPEG that Pillow would decode upright as L or RGB.

    None for anything else: not a JPEG, 12-bit or lossless, CMYK, or any segment that can
    change what Pillow returns (APP1 EXIF/XMP orientation, APP2 multi-picture, APP14 Adobe
    colour transform), which then takes Pillow's path.
    """
    if data[:2] != b"\xff\xd8":
        return None
    components, position = None, 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:  # start of scan: the header is over
            return components
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position + 4 : position + 2 + length]
        if marker in (0xE1, 0xEE) or (marker == 0xE2 and segment.startswith(b"MPF\0")):
            return None
        if marker in _SOF_OTHER:
            return None
        if marker in _SOF_PLAIN:
            if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3):
                return None
            components = segment[5]
        position += 2 + length
    return None


def _decode_jpeg(data: bytes, *, gray: bool) -> np.ndarray:
    import cv2

    flags = cv2.IMREAD_IGNORE_ORIENTATION | (cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR_RGB)
    array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if array is None:
        msg = "OpenCV could not decode this JPEG"
        raise ValueError(msg)
    return array


def pillow_pixels(opened: Image.Image, /) -> Pixels:
    """Pillow's decoding of any supported file: EXIF orientation, modes, notes."""
    image = ImageOps.exif_transpose(opened)  # a copy of the first frame
    mode = image.mode
    note = None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        array = np.asarray(image)
        if mode == "I" and (array.min() < 0 or array.max() > 65535):
            note = "32-bit values clipped to 16 bits"
        return Pixels(np.clip(array, 0, 65535).astype(np.uint16), None, note)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        note = "palette image written as RGB(A)"
    elif mode == "1":
        image = image.convert("L")
        note = "1-bit image written as 8-bit grayscale"
    elif mode in ("LA", "La", "PA"):
        image = image.convert("LA")
    elif mode in ("RGBa",):
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")
        note = f"{mode} image written as RGB"
    array = np.asarray(image)
    if image.mode == "LA":
        return Pixels(np.ascontiguousarray(array[..., 0]), array[..., 1].copy(), note)
    if image.mode == "RGBA":
        return Pixels(np.ascontiguousarray(array[..., :3]), array[..., 3].copy(), note)
    return Pixels(array.copy(), None, note)


def to_image(pixels: Pixels, /) -> Image.Image:
    """The arrays as a Pillow image of the matching mode."""
    if pixels.alpha is None:
        return Image.fromarray(pixels.image)
    if pixels.image.ndim == 2:
        return Image.fromarray(np.stack([pixels.image, pixels.alpha], axis=-1))
    return Image.fromarray(np.dstack([pixels.image, pixels.alpha]))


def encode(pixels: Pixels, /, *, extension: str) -> tuple[bytes, str]:
    """Encode as the extension's format (PNG when that format cannot hold the mode).

    Returns the bytes and the extension actually used.
    """
    kind = FORMATS[extension]
    if kind == "JPEG" and pixels.alpha is None and pixels.image.dtype == np.uint8:
        # OpenCV writes the same bytes as Pillow at the same quality (tested), in half the time.
        return _encode_jpeg(pixels.image), extension
    image = to_image(pixels)
    if image.mode not in MODES_OF_FORMAT[kind]:
        kind, extension = "PNG", ".png"
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **SAVE_OPTIONS.get(kind, {}))
    return buffer.getvalue(), extension


def _encode_jpeg(image: np.ndarray) -> bytes:
    import cv2

    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    quality = SAVE_OPTIONS["JPEG"]["quality"]
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        msg = f"OpenCV could not encode a {image.shape} {image.dtype} image as JPEG"
        raise ValueError(msg)
    return data.tobytes()
