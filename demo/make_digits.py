"""Generate demo/digits/: an imbalanced ImageFolder tree of handwritten digits.

scikit-learn's bundled digits (8×8, 16 gray levels; no download) are upscaled to 32×32 and
thinned per class from ~180 images of "0" down to 12 of "9". Like real exports, the tree mixes
pixel kinds and has flaws: most images are 8-bit grayscale PNG, some are RGB JPEG, RGBA PNG
(transparent background) or 16-bit PNG, a few JPEGs carry an EXIF orientation, one image is
stored twice under two names, and two files are broken (zero bytes; text with a .png name),
which the demo config skips with `validation.bad_files: skip`. The run logs WARNINGs about
these hard cases, as it would for a real user; `deliberate_note` says they are expected.

Seeded, so the tree is the same on every machine: `python demo/make_digits.py [folder]`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

SEED = 11
SIZE = 32
# Images kept per class: a long tail, imbalance ratio 15.
KEEP = {0: 178, 1: 150, 2: 120, 3: 90, 4: 65, 5: 45, 6: 32, 7: 24, 8: 16, 9: 12}
EXIF_ORIENTATION = 0x0112
# The broken files, made on purpose: their path in the tree and what is wrong with them.
BROKEN = {"7/empty.png": "zero bytes", "8/notes.png": "text with a .png name"}


def make_digits(folder: Path, /, *, seed: int = SEED) -> dict[str, int]:
    """Write the tree into `folder` (replaced if present); returns images per class."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    if folder.exists():
        shutil.rmtree(folder)
    written: dict[str, int] = {}
    for digit, keep in KEEP.items():
        indices = np.flatnonzero(digits.target == digit)
        chosen = np.sort(rng.choice(indices, size=min(keep, indices.size), replace=False))
        target = folder / str(digit)
        target.mkdir(parents=True)
        for position, index in enumerate(chosen):
            gray = _upscale(digits.images[index])
            kind = rng.choice(["gray", "rgb", "rgba", "16bit"], p=[0.7, 0.12, 0.1, 0.08])
            _write(target / f"d{index:04d}", gray, str(kind), rng, rotate=position % 23 == 5)
        written[str(digit)] = len(chosen)
    # Flaws: an exact duplicate under another name, and two unreadable files.
    first = sorted((folder / "3").iterdir())[0]
    shutil.copyfile(first, first.with_name(f"copy_of_{first.name}"))
    written["3"] += 1
    (folder / "7" / "empty.png").write_bytes(b"")
    (folder / "8" / "notes.png").write_text("not an image, despite the extension\n")
    return written


def deliberate_note(folder: Path, /) -> str:
    """One line for a new user: the WARNINGs the digits run logs are about flaws made here."""
    sixteen_bit = sum(1 for path in folder.rglob("*.png") if _is_16_bit(path))
    broken = ", ".join(f"{path} ({what})" for path, what in BROKEN.items())
    return (
        f"the tree holds on purpose {broken} and {sixteen_bit} 16-bit PNGs: the WARNINGs the "
        "digits run logs about them are expected"
    )


def _is_16_bit(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return image.mode.startswith("I")
    except (OSError, ValueError):  # the broken files
        return False


def _upscale(image: np.ndarray) -> np.ndarray:
    """8×8 values 0..16 to SIZE×SIZE 8-bit ink-on-paper (dark digit on white)."""
    small = Image.fromarray((255 - image * 255 / 16).astype(np.uint8))
    return np.asarray(small.resize((SIZE, SIZE), Image.Resampling.BILINEAR))


def _write(stem: Path, gray: np.ndarray, kind: str, rng, *, rotate: bool) -> None:
    if kind == "gray":
        Image.fromarray(gray).save(stem.with_suffix(".png"))
    elif kind == "16bit":
        Image.fromarray(gray.astype(np.uint16) * 257).save(stem.with_suffix(".png"))
    elif kind == "rgba":
        ink = (255 - gray).astype(np.uint8)  # alpha: opaque ink on a transparent background
        color = np.zeros((*gray.shape, 3), np.uint8)
        color[...] = rng.integers(0, 160, 3, dtype=np.uint8)
        Image.fromarray(np.dstack([color, ink])).save(stem.with_suffix(".png"))
    else:
        tint = rng.uniform(0.75, 1.0, 3)
        rgb = np.clip(np.dstack([gray] * 3) * tint + (1 - tint) * 255, 0, 255).astype(np.uint8)
        image = Image.fromarray(rgb)
        if rotate:
            # Stored turned by 90°, with EXIF orientation 6 saying "rotate to view".
            exif = Image.Exif()
            exif[EXIF_ORIENTATION] = 6
            image.transpose(Image.Transpose.ROTATE_90).save(
                stem.with_suffix(".jpg"), quality=92, exif=exif
            )
        else:
            image.save(stem.with_suffix(".jpg"), quality=92)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "digits"
    counts = make_digits(out)
    print(f"wrote {sum(counts.values())} images into {out}: {counts}")
    print(deliberate_note(out))
