"""The digits demo says which of the run's warnings are about flaws it made on purpose."""

import importlib.util
from collections import Counter
from pathlib import Path

from tasks.images.index import read_index
from validations.images import decode

DEMO = Path(__file__).parents[2] / "demo" / "make_digits.py"


def test_the_note_names_every_file_the_run_skips_and_counts_its_16_bit_images(tmp_path):
    spec = importlib.util.spec_from_file_location("make_digits", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    root = tmp_path / "digits"
    demo.make_digits(root)
    index = read_index(root, label="label", path_column="path")

    # What validation decides per file (validate_images decodes each file the same way).
    found = {path: decode(root / path, max_pixels=10_000) for path in index.frame["path"]}
    note = demo.deliberate_note(root)

    skipped = sorted(path for path, item in found.items() if item.problem)
    assert skipped == sorted(demo.BROKEN) and index.not_indexed == ()
    assert all(path in note for path in skipped)
    sixteen_bit = Counter(item.mode for item in found.values())["I;16"]
    assert sixteen_bit > 0 and f" and {sixteen_bit} 16-bit PNGs:" in note
    assert note.endswith("the WARNINGs the digits run logs about them are expected")
