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


def _validate_tree(root, *, bad_files, output_dir, **overrides):
    """Index a folder tree and validate it as the modality does: with what the scan left out."""
    index = read_index(root, label="label", path_column="path")
    return _validate(
        index.frame,
        root=root,
        bad_files=bad_files,
        output_dir=output_dir,
        not_indexed=index.not_indexed,
        class_folders=index.class_folders,
        **overrides,
    )


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


# Each file format the scan indexes, with the pixel kinds a real export mixes (gray, RGBA,
# 16-bit, palette), upper-case extensions included.
FORMATS = [
    ("x.PNG", "I;16", "I;16"),
    ("x.png", "P", "P"),
    ("x.gif", "P", "P"),
    ("x.bmp", "L", "L"),
    ("x.TIFF", "I;16", "I;16"),
    ("x.tif", "RGBA", "RGBA"),
    ("x.webp", "RGBA", "RGBA"),
    ("x.JPG", "RGB", "RGB"),
]


@pytest.mark.parametrize(("name", "kind", "mode"), FORMATS, ids=[c[0] + c[1] for c in FORMATS])
def test_decode_accepts_each_indexed_format_with_its_pixel_kind(tmp_path, name, kind, mode):
    path = tmp_path / name
    write_image(tmp_path / "src.png", kind, size=(12, 20))
    with Image.open(tmp_path / "src.png") as image:
        image.save(path, format=Image.registered_extensions()[path.suffix.lower()])

    found = decode(path, max_pixels=240)

    assert (found.problem, found.mode, found.width, found.height) == (None, mode, 20, 12)


def _tree_with_left_out_files(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 4, "b": 4})
    (root / "a" / "empty.png").write_bytes(b"")
    (root / "a" / "notes.txt").write_text("x")
    (root / "a" / "more.txt").write_text("y")
    (root / "b" / "fake.jpg").write_text("<html>not a jpeg</html>")
    (root / "b" / ".DS_Store").write_bytes(b"x")
    (root / "README.md").write_text("about the data")
    return root


def test_left_out_files_are_counted_per_class_and_reason_for_manifest_log_and_report(tmp_path):
    root = _tree_with_left_out_files(tmp_path)

    checked = _validate_tree(root, bad_files="skip", output_dir=tmp_path / "v")

    assert checked.findings.skipped == {
        "a": {"other extension (.txt)": 2, "zero bytes": 1},
        "b": {"hidden file": 1, "not an image": 1},
    }
    assert checked.findings.skipped_outside_classes == {"file beside the class folders": 1}
    assert checked.findings.as_manifest()["skipped"] == checked.findings.skipped
    assert checked.rows_dropped == 2  # the two bad files; the rest were never rows
    assert checked.class_counts == {"a": 4, "b": 4}
    (note,) = checked.notes
    assert note.startswith(
        "left out 6 file(s) (2 bad, under validation.bad_files: skip; 4 not indexed by the "
        "folder scan): "
    )
    assert "class 'a': other extension (.txt) 2, zero bytes 1; class 'b': hidden file 1" in note
    assert "; no class: file beside the class folders 1;" in note
    section = checked.report_sections[0]
    assert "| a | other extension (.txt) | 2 |" in section
    assert "| b | not an image | 1 |" in section
    assert "| (no class) | file beside the class folders | 1 |" in section
    assert "- not indexed by the folder scan (4):" in section
    assert "| `a/notes.txt` | other extension (.txt) |" in section


def test_nothing_left_out_gives_no_note_and_no_table(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})

    checked = _validate_tree(root, bad_files="skip", output_dir=tmp_path / "v")

    assert (checked.notes, checked.findings.skipped, checked.rows_dropped) == ((), {}, 0)
    assert "files left out" not in checked.report_sections[0]


def test_a_class_folder_whose_files_are_all_bad_is_an_error_naming_it_and_the_fix(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})
    _truncated(root / "c" / "cut.png")
    (root / "c" / "empty.png").write_bytes(b"")
    (root / "c" / "notes.txt").write_text("x")

    with pytest.raises(DataError) as caught:
        _validate_tree(root, bad_files="skip", output_dir=tmp_path / "v")

    assert str(caught.value) == (
        f"class folder 'c' ({root / 'c'}: skipped corrupt or truncated 1, other extension "
        "(.txt) 1, zero bytes 1) has no usable image; replace the skipped files with readable "
        "images, or remove the folder"
    )


def test_a_class_of_a_table_whose_files_are_all_bad_is_an_error_naming_it(tmp_path):
    for index in range(3):
        write_image(tmp_path / f"ok{index}.png", seed=index)
        write_image(tmp_path / f"fine{index}.png", seed=10 + index)
    (tmp_path / "gone.png").write_bytes(b"")
    table = tmp_path / "index.csv"
    pl.DataFrame(
        {
            "path": [f"ok{i}.png" for i in range(3)]
            + [f"fine{i}.png" for i in range(3)]
            + ["gone.png", "missing.png"],
            "label": ["x"] * 3 + ["y"] * 3 + ["z"] * 2,
        }
    ).write_csv(table)
    index = read_index(table, label="label", path_column="path")

    with pytest.raises(DataError) as caught:
        _validate(index.frame, root=tmp_path, bad_files="skip", output_dir=tmp_path / "v")

    assert str(caught.value).startswith(
        "class 'z' (skipped missing 1, zero bytes 1) has no usable image; fix or replace"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_named_like_an_image_is_a_bad_file_not_a_hang(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})
    os.mkfifo(root / "a" / "pipe.png")

    checked = _validate_tree(root, bad_files="skip", output_dir=tmp_path / "v")

    assert checked.findings.skipped == {"a": {"not a regular file": 1}}
    assert checked.findings.bad_files[0].problem.startswith("not a regular file (a FIFO")


def test_a_class_of_animated_gifs_only_is_validated_as_first_frames(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3})
    for index in range(3):
        write_animated(root / "g" / f"m{index}.gif", seed=index)

    checked = _validate_tree(root, bad_files="fail", output_dir=tmp_path / "v")

    assert checked.class_counts == {"a": 3, "g": 3}
    assert checked.findings.animated == 3


def test_rebalance_validate_prints_what_was_left_out(tmp_path):
    from rebalance.cli import validate
    from rebalance.config import parse_config

    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})
    (root / "b" / "scan.pdf").write_text("x")
    config = parse_config(
        {"name": "t", "modality": "image", "source": str(root), "output": str(tmp_path / "o")}
    )

    lines = validate(config).splitlines()

    assert "skipped: {'b': {'other extension (.pdf)': 1}}" in lines
    assert "note: left out 1 file(s) (1 not indexed by the folder scan): class 'b': other " in (
        "\n".join(lines)
    )
    assert lines[-1] == "valid"


def test_a_dangling_symlink_named_like_an_image_is_a_missing_file(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 3, "b": 3})
    os.symlink(root / "a" / "gone.png", root / "a" / "link.png")

    checked = _validate_tree(root, bad_files="skip", output_dir=tmp_path / "v")

    assert checked.findings.skipped == {"a": {"missing": 1}}
    assert checked.findings.bad_files[0].path == "a/link.png"
