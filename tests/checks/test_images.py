"""Decoding every file before the split: bad files, the pixel limit, duplicates, EXIF."""

import os
import re
import shutil

import polars as pl
import pytest
from PIL import Image

from rebalance.errors import DataError, ValidationFailed
from tasks.images.index import read_index
from tests.image_helpers import (
    image_tree,
    write_animated,
    write_cmyk_jpeg,
    write_image,
    write_rotated_jpeg,
    write_zero_width_png,
)
from validations.images import Duplicates, decode, validate_images


def _validate(frame, *, root, bad_files, output_dir, **overrides):
    """`validate_images` with the index columns and limits these tests share."""
    arguments = {
        "label": "label",
        "path_column": "path",
        "hash_column": "sha256",
        "null_policy": "fail",
        "max_pixels": 10_000,
        "dataset": "t",
    }
    return validate_images(
        frame, root=root, bad_files=bad_files, output_dir=output_dir, **(arguments | overrides)
    )


def _truncated(path):
    write_image(path, "RGB", size=(40, 40))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES = [
    ("zero bytes", lambda p: p.write_bytes(b""), "zero bytes"),
    ("text named .png", lambda p: p.write_text("hello\n"), "not an image Pillow can read"),
    ("truncated png", _truncated, "corrupt or truncated"),
    ("missing", lambda p: None, "file not found"),
    ("0 pixels wide", write_zero_width_png, r"^empty image: its header says 0×5 pixels$"),
    (
        "too many pixels",
        lambda p: Image.new("L", (50, 40)).save(p),
        r"50×40 = 2,000 pixels, above validation.max_pixels 1,999",
    ),
]


@pytest.mark.parametrize(
    ("make", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_decode_names_the_problem_of_each_bad_file(tmp_path, make, expected):
    path = tmp_path / "x.png"
    make(path)

    found = decode(path, max_pixels=1_999)

    assert found.problem is not None
    assert re.search(expected, found.problem), found.problem


def test_decode_refuses_float_images_with_a_hint(tmp_path):
    path = tmp_path / "x.tif"
    Image.new("F", (4, 4)).save(path)

    assert "unsupported pixel mode 'F'" in decode(path, max_pixels=100).problem


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "I;16", "P"])
def test_decode_accepts_each_pixel_kind_and_reports_its_mode(tmp_path, kind):
    path = write_image(tmp_path / "x.png", kind, size=(12, 20))

    found = decode(path, max_pixels=240)

    assert (found.problem, found.mode, found.width, found.height) == (None, kind, 20, 12)


def test_decode_reports_upright_size_of_exif_rotated_jpeg(tmp_path):
    path = write_rotated_jpeg(tmp_path / "r.jpg", size=(24, 16))  # stored 16 wide, 24 high

    found = decode(path, max_pixels=10_000)

    assert (found.orientation, found.width, found.height) == (6, 24, 16)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animated_image_is_accepted_and_its_frames_are_counted(tmp_path, suffix):
    path = write_animated(tmp_path / f"x{suffix}", frames=3, size=(12, 20))

    found = decode(path, max_pixels=240)

    assert (found.problem, found.frames, found.width, found.height) == (None, 3, 20, 12)


def test_a_cmyk_jpeg_is_accepted_as_cmyk(tmp_path):
    found = decode(write_cmyk_jpeg(tmp_path / "c.jpg"), max_pixels=10_000)

    assert (found.problem, found.mode, found.format) == (None, "CMYK", "JPEG")


def _make_unreadable(path, monkeypatch):
    """chmod 000; where that does not block reads (root), Pillow's open raises as it would."""
    path.chmod(0)
    if os.access(path, os.R_OK):
        real_open = Image.open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(Image, "open", refusing_open)


def test_an_unreadable_file_is_named_with_the_permission_fix(tmp_path, monkeypatch):
    root = image_tree(tmp_path / "data", {"a": 4, "b": 4})
    locked = root / "b" / "img002.png"
    index = read_index(root, label="label", path_column="path")
    _make_unreadable(locked, monkeypatch)

    try:
        with pytest.raises(ValidationFailed) as caught:
            _validate(index.frame, root=root, bad_files="fail", output_dir=tmp_path / "v")
        skipped = _validate(index.frame, root=root, bad_files="skip", output_dir=tmp_path / "v")
    finally:
        locked.chmod(0o644)

    message = str(caught.value)
    assert message.startswith("1 unusable image file(s)")
    assert "b/img002.png: unreadable: permission denied" in message
    assert "read access (chmod a+r)" in message
    assert skipped.class_counts == {"a": 4, "b": 3}
    assert skipped.findings.bad_files[0].path == "b/img002.png"


def test_animated_images_are_counted_in_the_report(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})
    write_animated(root / "a" / "moving.webp")

    checked = _validate(
        read_index(root, label="label", path_column="path").frame,
        root=root,
        bad_files="fail",
        output_dir=tmp_path / "v",
    )

    assert checked.findings.animated == 1
    assert checked.class_counts == {"a": 4, "b": 3}
    assert "animated images (GIF/WebP/APNG): 1 (the first frame" in checked.report_sections[0]


def _bad_tree(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 4, "b": 4})
    (root / "a" / "empty.png").write_bytes(b"")
    (root / "b" / "fake.jpg").write_text("<html>not a jpeg</html>")
    return root


def test_bad_files_fail_lists_every_bad_file_and_the_fix(tmp_path):
    root = _bad_tree(tmp_path)
    index = read_index(root, label="label", path_column="path")

    with pytest.raises(ValidationFailed) as caught:
        _validate(index.frame, root=root, bad_files="fail", output_dir=tmp_path / "v")

    message = str(caught.value)
    assert message.startswith("2 unusable image file(s)")
    assert "a/empty.png: zero bytes" in message
    assert "b/fake.jpg: not an image" in message
    assert message.endswith("set validation.bad_files: skip")


def test_bad_files_skip_leaves_them_out_and_lists_them_and_counts_duplicates(tmp_path):
    root = _bad_tree(tmp_path)
    shutil.copyfile(root / "a" / "img000.png", root / "a" / "again.png")
    shutil.copyfile(root / "a" / "img001.png", root / "b" / "mislabelled.png")
    index = read_index(root, label="label", path_column="path")

    checked = _validate(index.frame, root=root, bad_files="skip", output_dir=tmp_path / "v")

    assert checked.frame.height == 10
    assert "a/empty.png" not in checked.frame["path"].to_list()
    assert checked.class_counts == {"a": 5, "b": 5}
    assert [item.path for item in checked.findings.bad_files] == ["a/empty.png", "b/fake.jpg"]
    assert checked.findings.duplicates == Duplicates(
        groups=2, images=4, groups_with_conflicting_labels=1
    )
    section = checked.report_sections[0]
    assert "| `b/fake.jpg` | not an image" in section
    assert "4 images in 2 groups" in section
    assert (tmp_path / "v" / "result.json").is_file()


def test_a_class_that_cannot_be_a_folder_name_is_refused(tmp_path):
    for index in range(3):
        write_image(tmp_path / f"x{index}.png", seed=index)
        write_image(tmp_path / f"y{index}.png", seed=10 + index)
    table = tmp_path / "index.csv"
    pl.DataFrame(
        {
            "path": [f"x{i}.png" for i in range(3)] + [f"y{i}.png" for i in range(3)],
            "label": ["ok"] * 3 + ["a/b"] * 3,
        }
    ).write_csv(table)
    index = read_index(table, label="label", path_column="path")

    with pytest.raises(DataError, match=r"class 'a/b' of label 'label' cannot be an output folder"):
        _validate(index.frame, root=tmp_path, bad_files="fail", output_dir=tmp_path / "v")
