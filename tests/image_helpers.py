"""Tiny image datasets built in code: every pixel kind and flaw the image tests need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112


def pattern(size: tuple[int, int] = (24, 16), *, seed: int = 0) -> np.ndarray:
    """An asymmetric 8-bit gray pattern (height × width), so flips and rotations show."""
    rng = np.random.default_rng(seed)
    height, width = size
    base = np.add.outer(np.arange(height) * 7, np.arange(width) * 3) % 256
    return (base + rng.integers(0, 40, size)).clip(0, 255).astype(np.uint8)


def write_image(path: Path, kind: str = "L", *, seed: int = 0, size=(24, 16)) -> Path:
    """One image of a pixel kind: L, RGB, RGBA, I;16, P or JPEG (RGB), at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gray = pattern(size, seed=seed)
    if kind == "L":
        Image.fromarray(gray).save(path)
    elif kind == "RGB":
        Image.fromarray(np.dstack([gray, 255 - gray, gray // 2])).save(path)
    elif kind == "RGBA":
        alpha = np.where(np.arange(size[1]) < size[1] // 2, 255, 0).astype(np.uint8)
        alpha = np.broadcast_to(alpha, size)
        Image.fromarray(np.dstack([gray, gray, 255 - gray, alpha])).save(path)
    elif kind == "I;16":
        Image.fromarray(gray.astype(np.uint16) * 257 + 1).save(path)
    elif kind == "P":
        Image.fromarray(np.dstack([gray] * 3)).convert("P").save(path)
    else:
        msg = f"unknown kind {kind}"
        raise ValueError(msg)
    return path


def write_rotated_jpeg(path: Path, *, size=(24, 16)) -> Path:
    """A JPEG stored as width × height with EXIF orientation 6 (view rotated by 90°)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    Image.fromarray(np.dstack([pattern(size)] * 3)).save(path, exif=exif, quality=95)
    return path


def image_tree(root: Path, counts: dict[str, int], *, kinds=("L",), seed: int = 0) -> Path:
    """`root/<class>/img<i>.png` with `counts` images per class, cycling through `kinds`."""
    for label_index, (label, count) in enumerate(counts.items()):
        for index in range(count):
            kind = kinds[index % len(kinds)]
            write_image(
                root / label / f"img{index:03d}.png",
                kind,
                seed=seed + 1000 * label_index + index,
            )
    return root


def count_tree(root: Path) -> dict[str, int]:
    """A plain directory-walking loader (like ImageFolder, whose extensions include .gif):
    images per class folder."""
    extensions = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
    counts = {}
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        files = [
            path
            for path in folder.rglob("*")
            if path.suffix.lower() in extensions and not path.name.startswith(".")
        ]
        for file in files:
            with Image.open(file) as image:
                image.load()
        counts[folder.name] = len(files)
    return counts


def write_animated(path: Path, *, frames: int = 3, seed: int = 0, size=(24, 16)) -> Path:
    """An animated GIF or WebP (by extension) whose frames differ; frame 0 is `pattern(size)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gray = pattern(size, seed=seed).astype(np.int64)
    images = [
        Image.fromarray(np.dstack([(gray + 60 * i) % 256] * 3).astype(np.uint8))
        for i in range(frames)
    ]
    options = {"lossless": True} if path.suffix == ".webp" else {}
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, **options)
    return path


def write_cmyk_jpeg(path: Path, *, seed: int = 0, size=(24, 16)) -> Path:
    """A CMYK JPEG (as print workflows and some scanners write them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gray = pattern(size, seed=seed)
    cmyk = np.dstack([gray, 255 - gray, gray // 2, np.full(size, 20, np.uint8)])
    Image.frombytes("CMYK", (size[1], size[0]), cmyk.tobytes()).save(path, quality=95)
    return path


def write_zero_width_png(path: Path, *, height: int = 5) -> Path:
    """A PNG whose header declares 0 × `height` pixels (valid CRC): Pillow cannot write one."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", 0, height)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path
