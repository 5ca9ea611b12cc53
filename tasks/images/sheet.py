"""The contact sheet: for each class that got augmented copies, a few originals beside them.

People check augmentations by looking at them; one PNG per run shows whether the pipeline
keeps the classes recognisable (a flipped "7" is not a "7").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tasks.images.pixels import load_pixels

SHEET_FILE = "contact_sheet.png"
THUMB = 72
GAP = 6
LABEL_WIDTH = 110
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class SheetRow:
    """One original and some of the images generated from it."""

    label: str
    original: Path
    generated: Sequence[Path]


def render_sheet(rows: Sequence[SheetRow], path: Path, /, *, columns: int = 4) -> None:
    """Draw the rows (original first, then its copies) and save a PNG with fixed bytes."""
    width = LABEL_WIDTH + columns * (THUMB + GAP) + GAP
    height = GAP + len(rows) * (THUMB + GAP) + 14
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, 2), "class / source", fill=(0, 0, 0))
    draw.text((LABEL_WIDTH, 2), "original | augmented copies", fill=(0, 0, 0))
    for index, row in enumerate(rows):
        top = 14 + GAP + index * (THUMB + GAP)
        draw.text((GAP, top + 2), _shorten(row.label, 16), fill=(0, 0, 0))
        draw.text((GAP, top + 16), _shorten(row.original.name, 16), fill=(90, 90, 90))
        for column, image_path in enumerate([row.original, *row.generated][:columns]):
            left = LABEL_WIDTH + column * (THUMB + GAP)
            thumb = _thumbnail(image_path)
            sheet.paste(
                thumb, (left + (THUMB - thumb.width) // 2, top + (THUMB - thumb.height) // 2)
            )
            if column == 0:
                draw.rectangle(
                    (left - 2, top - 2, left + THUMB + 1, top + THUMB + 1), outline=(200, 0, 0)
                )
    sheet.save(path, format="PNG", optimize=False)


def _thumbnail(path: Path) -> Image.Image:
    pixels = load_pixels(path)
    image = pixels.image
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)  # display only: the files keep 16 bits
    rgb = np.dstack([image] * 3) if image.ndim == 2 else image
    if pixels.alpha is not None:
        # Composite over a checkerboard so transparency is visible.
        h, w = pixels.alpha.shape
        yy, xx = np.mgrid[0:h, 0:w]
        board = np.where(((yy // 4 + xx // 4) % 2)[..., None] == 0, 200, 255).astype(np.float32)
        weight = pixels.alpha.astype(np.float32)[..., None] / 255
        rgb = (rgb * weight + board * (1 - weight)).round().astype(np.uint8)
    thumb = Image.fromarray(np.ascontiguousarray(rgb))
    thumb.thumbnail((THUMB, THUMB), Image.Resampling.NEAREST if max(thumb.size) < THUMB else 1)
    if max(thumb.size) < THUMB:  # upscale tiny images so they can be seen
        scale = THUMB / max(thumb.size)
        size = (max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale)))
        thumb = thumb.resize(size, Image.Resampling.NEAREST)
    return thumb


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "~"
