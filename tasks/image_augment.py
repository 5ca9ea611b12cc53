"""Augmented copies of training images: the albumentations pipeline, the plan, one image's work.

Plain functions, no Prefect: `tasks.image_modality` shards the plan into Prefect tasks.

- The pipeline is built from albumentations transform names and their own parameters (or
  loaded from a file saved by `albumentations.save`) and saved beside the outputs.
- The plan uses every training image of a class round-robin: with `n` sources and `m` images
  to make, each source is used ⌊m/n⌋ or ⌈m/n⌉ times. Each generated image has its own seed,
  derived from the run seed, its source's path and its index, so reruns are byte-identical and
  sharding does not change any image.
- Pixels keep their kind: grayscale stays grayscale, alpha passes through the spatial
  transforms as a mask (color transforms leave it alone), 16-bit images are augmented as
  16-bit, and EXIF orientation is applied first.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from rebalance.errors import ConfigError

# Scale, crop/pad, rotate, flip and color jitter, in moderate ranges (what image classifiers
# are usually trained with). CropAndPad's negative percents crop, positive ones pad; borders
# reflect the image (border_mode 4, cv2.BORDER_REFLECT_101) instead of filling with black.
DEFAULT_AUGMENTATIONS: list[dict[str, dict[str, Any]]] = [
    {"Affine": {"scale": [0.9, 1.1], "rotate": [-15, 15], "border_mode": 4, "p": 0.7}},
    {"CropAndPad": {"percent": [-0.1, 0.1], "keep_size": True, "border_mode": 4, "p": 0.5}},
    {"HorizontalFlip": {"p": 0.5}},
    {"ColorJitter": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.0, "p": 0.8}},
]
PIPELINE_FILE = "augmentations.yaml"

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


def build_pipeline(spec: Sequence[str | Mapping[str, Any]] | Path | None, /, *, seed: int):
    """An `albumentations.Compose` from transform names and params, a saved file, or defaults.

    Raises:
        ConfigError: an unknown transform or parameter, bad parameter values, an unreadable
            file, or a pipeline that fails on a test image; the message names it.
    """
    import albumentations as A

    if isinstance(spec, Path):
        transforms = _load_saved(spec)
    else:
        items = DEFAULT_AUGMENTATIONS if spec is None else spec
        transforms = [_transform(item, position) for position, item in enumerate(items)]
    # Linear interpolation of the alpha mask keeps anti-aliased edges smooth.
    compose = A.Compose(transforms, seed=seed, save_applied_params=True, mask_interpolation=1)
    _try_on_test_images(compose)
    return compose


def pipeline_dict(compose, /) -> dict[str, Any]:
    """albumentations' own serialized form of the pipeline (what `A.from_dict` reads)."""
    import albumentations as A

    return A.to_dict(compose)


def compose_from_dict(serialized: Mapping[str, Any], /):
    """Rebuild a pipeline in a worker (each shard has its own, so no state is shared)."""
    import albumentations as A

    compose = A.from_dict(dict(serialized))
    compose.save_applied_params = True
    return compose


def save_pipeline(compose, path: Path, /) -> None:
    """Write the pipeline with `albumentations.save` (YAML), loadable with `A.load`."""
    import albumentations as A

    A.save(compose, str(path), data_format="yaml")


def describe(compose, /) -> str:
    """`Affine, CropAndPad, ...`: the transform names, for logs."""
    return ", ".join(type(transform).__name__ for transform in compose.transforms)


def _transform(item: str | Mapping[str, Any], position: int):
    import albumentations as A

    where = f"rebalance.augmentations[{position}]"
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, Mapping) and len(item) == 1:
        name, params = next(iter(item.items()))
        params = dict(params or {})
    else:
        msg = f"{where} must be a transform name or `{{Name: {{param: value}}}}`, got {item!r}"
        raise ConfigError(msg)
    cls = getattr(A, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, A.BasicTransform)):
        msg = (
            f"{where}: '{name}' is not an albumentations transform; use a class name such as "
            "Affine, HorizontalFlip, RandomResizedCrop or ColorJitter"
        )
        raise ConfigError(msg)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        msg = (
            f"{where}: {name} has no parameter {', '.join(repr(p) for p in unknown)}; its "
            f"parameters are {', '.join(sorted(accepted))}"
        )
        raise ConfigError(msg)
    try:
        return cls(**params)
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        msg = f"{where}: invalid parameters for {name} ({reason}); see its albumentations docs"
        raise ConfigError(msg) from None


def _load_saved(path: Path):
    import albumentations as A

    kind = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(path.suffix.lower())
    if kind is None:
        msg = f"rebalance.augmentations file {path} must be .yaml, .yml or .json"
        raise ConfigError(msg)
    if not path.is_file():
        msg = f"rebalance.augmentations file not found: {path} (relative to the config's folder)"
        raise ConfigError(msg)
    try:
        loaded = A.load(str(path), data_format=kind)
    except Exception as exc:  # albumentations raises many kinds for a malformed file
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        msg = (
            f"rebalance.augmentations file {path} is not a pipeline saved by "
            f"albumentations.save ({reason})"
        )
        raise ConfigError(msg) from None
    return list(loaded.transforms) if hasattr(loaded, "transforms") else [loaded]


def _try_on_test_images(compose) -> None:
    samples = {
        "RGB": np.full((32, 32, 3), 128, np.uint8),
        "grayscale": np.full((32, 32), 128, np.uint8),
        "16-bit": np.full((32, 32), 30000, np.uint16),
    }
    for kind, image in samples.items():
        try:
            compose.set_random_seed(0)
            compose(image=image, mask=np.full((32, 32), 255, np.uint8))
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            msg = (
                f"rebalance.augmentations fail on a {kind} image ({reason}); use transforms "
                "that work on plain images"
            )
            raise ConfigError(msg) from None
    compose.set_random_seed(None)


# ---- the plan -----------------------------------------------------------------------------


def class_targets(
    counts: Mapping[Any, int], target: str | int | Mapping[str, int], /
) -> dict[Any, int]:
    """Training images wanted per class (keys are the labels as they are).

    Raises:
        ConfigError: a per-class target names a class the training split does not have.
    """
    if target == "majority":
        peak = max(counts.values())
        return {name: peak for name in counts}
    if isinstance(target, int):
        return {name: target for name in counts}
    by_name = {str(name): name for name in counts}
    unknown = sorted(set(target) - set(by_name))
    if unknown:
        msg = (
            f"rebalance.target names class(es) {', '.join(repr(n) for n in unknown)} that the "
            f"training split does not have; classes are {', '.join(sorted(by_name))}"
        )
        raise ConfigError(msg)
    return {name: int(target.get(str(name), count)) for name, count in counts.items()}


def round_robin(sources: int, wanted: int, /, *, rng: np.random.Generator) -> np.ndarray:
    """How many images to make from each of `sources`: ⌊wanted/sources⌋ or one more.

    Which sources get the extra one is random (seeded), not always the first ones.
    """
    base, extra = divmod(wanted, sources)
    uses = np.full(sources, base, dtype=np.int64)
    uses[rng.permutation(sources)[:extra]] += 1
    return uses


def image_seed(run_seed: int, source: str, index: int, /) -> int:
    """The seed of one generated image: from the run seed, its source path and its index."""
    digest = hashlib.sha256(f"{run_seed}\0{source}\0{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


# ---- one image ----------------------------------------------------------------------------


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


def augment(compose, pixels: Pixels, /, *, seed: int) -> tuple[Pixels, list[list[Any]]]:
    """One augmented copy and the parameters each applied transform drew."""
    compose.set_random_seed(seed)
    if pixels.alpha is None:
        result = compose(image=pixels.image)
        alpha = None
    else:
        result = compose(image=pixels.image, mask=pixels.alpha)
        alpha = np.ascontiguousarray(result["mask"]).reshape(result["image"].shape[:2])
    image = np.ascontiguousarray(result["image"])
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    applied = [[name, _plain(params)] for name, params in result.get("applied_transforms", [])]
    return Pixels(image.astype(pixels.image.dtype, copy=False), alpha, pixels.note), applied


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


def params_json(applied: list[list[Any]], /) -> str:
    """The applied transforms and their drawn parameters as compact, stable JSON."""
    return json.dumps(applied, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    # Exact types first (most values are floats, ints and dicts); the isinstance chain below
    # handles the rest the same way, just slower (Mapping is an ABC).
    kind = type(value)
    if kind is float:
        return round(value, 6) if math.isfinite(value) else str(value)
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(key): _plain(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
