"""Indexing an image dataset: both input forms, and paths that escape the dataset root."""

import hashlib
import os
import re
from pathlib import Path

import polars as pl
import pytest

from rebalance.errors import DataError
from tasks.images.index import IMAGE_EXTENSIONS, read_index
from tests.image_helpers import image_tree, write_animated, write_image
from validations.images import NotIndexed


def test_folder_tree_gives_one_row_per_image_with_label_size_and_hash(tmp_path):
    root = image_tree(tmp_path / "data", {"cat": 2, "dog": 3})
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"x")
    write_image(root / "dog" / "nested" / "deep.png")
    write_image(root / "stray.png")  # beside the class folders: no class

    index = read_index(root, label="label", path_column="path")

    frame = index.frame.sort("path")
    assert frame["path"].to_list() == [
        "cat/img000.png",
        "cat/img001.png",
        "dog/img000.png",
        "dog/img001.png",
        "dog/img002.png",
        "dog/nested/deep.png",
    ]
    assert frame["label"].to_list() == ["cat"] * 2 + ["dog"] * 4
    first = root / "cat" / "img000.png"
    assert frame["sha256"][0] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert frame["bytes"][0] == first.stat().st_size
    assert index.root == root


def test_table_of_paths_relative_to_its_folder_keeps_label_type(tmp_path):
    write_image(tmp_path / "imgs" / "a.png", seed=1)
    write_image(tmp_path / "imgs" / "b.png", seed=2)
    write_image(tmp_path / "other" / "c.png", seed=3)
    table = tmp_path / "index.csv"
    pl.DataFrame({"file": ["imgs/a.png", "imgs/./b.png", "other/c.png"], "y": [0, 1, 1]}).write_csv(
        table
    )

    index = read_index(table, label="y", path_column="file")

    assert index.frame["path"].to_list() == ["imgs/a.png", "imgs/b.png", "other/c.png"]
    assert index.frame["y"].dtype == pl.Int64
    assert index.root == tmp_path


def test_listing_hash_changes_when_an_image_changes(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 2, "b": 2})
    before = read_index(root, label="label", path_column="path").listing_sha256

    write_image(root / "a" / "img000.png", seed=99)

    assert read_index(root, label="label", path_column="path").listing_sha256 != before


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../outside.png", r"'../outside.png' resolves to .*outside the dataset root"),
        ("imgs/../../outside.png", r"'imgs/../../outside.png' resolves to .*outside"),
        ("/etc/passwd", r"'/etc/passwd' .* is absolute"),
    ],
)
def test_table_paths_that_escape_the_root_are_refused_by_name(tmp_path, path, expected):
    write_image(tmp_path / "outside.png")
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "index.csv"
    pl.DataFrame({"path": [path], "label": ["a"]}).write_csv(table)

    with pytest.raises(DataError, match=expected):
        read_index(table, label="label", path_column="path")


def test_symlinked_file_pointing_outside_the_tree_is_refused(tmp_path):
    outside = write_image(tmp_path / "secret.png")
    root = image_tree(tmp_path / "data", {"a": 1, "b": 1})
    os.symlink(outside, root / "a" / "link.png")

    with pytest.raises(DataError, match=r"'a/link.png' is a symlink to .*secret.png"):
        read_index(root, label="label", path_column="path")


def test_symlinked_folder_pointing_outside_the_tree_is_refused(tmp_path):
    image_tree(tmp_path / "elsewhere", {"x": 1})
    root = image_tree(tmp_path / "data", {"a": 1})
    os.symlink(tmp_path / "elsewhere" / "x", root / "b")

    with pytest.raises(DataError, match=r"'b' is a symlink to .*elsewhere"):
        read_index(root, label="label", path_column="path")


def test_symlink_inside_the_tree_is_allowed(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 1, "b": 1})
    os.symlink(root / "a" / "img000.png", root / "b" / "alias.png")

    index = read_index(root, label="label", path_column="path")

    assert "b/alias.png" in index.frame["path"].to_list()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: p.mkdir(), "has no class subfolders; lay it out as"),
        (lambda p: None, "image source not found"),
    ],
)
def test_empty_or_missing_source_is_a_clear_error(tmp_path, setup, expected):
    source = tmp_path / "data"
    setup(source)

    with pytest.raises(DataError, match=expected):
        read_index(source, label="label", path_column="path")


def test_table_without_the_path_column_names_it(tmp_path):
    table = tmp_path / "index.csv"
    pl.DataFrame({"file": ["a.png"], "label": ["a"]}).write_csv(table)

    with pytest.raises(DataError, match=r"path column 'path' is not in .*Set `path_column`"):
        read_index(table, label="label", path_column="path")


def test_every_documented_extension_is_indexed_in_any_case(tmp_path):
    # docs/modalities.md: jpg, jpeg, png, gif (first frame), webp, bmp, tif, tiff.
    root = tmp_path / "data"
    names = ["a.JPG", "b.jpeg", "c.PNG", "d.gif", "e.Webp", "f.bmp", "g.TIF", "h.tiff"]
    for index, name in enumerate(names):
        write_image(root / "x" / name, "RGB", seed=index)
    write_animated(root / "y" / "moving.GIF")

    index = read_index(root, label="label", path_column="path")

    assert sorted(index.frame["path"]) == sorted([f"x/{name}" for name in names] + ["y/moving.GIF"])
    assert {Path(name).suffix.lower() for name in names} == set(IMAGE_EXTENSIONS)
    assert index.not_indexed == ()
    assert index.class_folders == ("x", "y")


def test_a_class_of_gif_files_only_is_indexed(tmp_path):
    root = image_tree(tmp_path / "data", {"png": 2})
    write_animated(root / "gif" / "a.gif", seed=1)
    write_animated(root / "gif" / "b.gif", seed=2)

    index = read_index(root, label="label", path_column="path")

    assert index.frame.filter(pl.col("label") == "gif")["path"].sort().to_list() == [
        "gif/a.gif",
        "gif/b.gif",
    ]


def test_what_the_scan_leaves_out_is_recorded_with_its_class_and_reason(tmp_path):
    root = image_tree(tmp_path / "data", {"cat": 2, "dog": 2})
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / "README").write_text("no extension")
    (root / "cat" / ".DS_Store").write_bytes(b"x")
    write_image(root / "dog" / ".thumbs" / "small.png")  # inside a hidden folder: not read
    write_image(root / "dog" / "deep" / "nested.png")  # nested: indexed under its class
    (root / "labels.csv").write_text("path,label\n")
    (root / ".git").mkdir()

    index = read_index(root, label="label", path_column="path")

    assert sorted(index.not_indexed, key=lambda item: item.path) == [
        NotIndexed(".git/", None, "hidden folder"),
        NotIndexed("cat/.DS_Store", "cat", "hidden file"),
        NotIndexed("cat/README", "cat", "no extension"),
        NotIndexed("cat/notes.txt", "cat", "other extension (.txt)"),
        NotIndexed("dog/.thumbs/", "dog", "hidden folder"),
        NotIndexed("labels.csv", None, "file beside the class folders"),
    ]
    assert "dog/deep/nested.png" in index.frame["path"].to_list()
    assert index.class_folders == ("cat", "dog")


def _link_to_a(root):
    os.symlink(root / "a", root / "b")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda root: (root / "b").mkdir(), r"'b' \(.*/b: it holds no files\)"),
        (
            lambda root: (
                (root / "b").mkdir(),
                (root / "b" / "x.txt").write_text("x"),
                (root / "b" / "y.txt").write_text("y"),
                (root / "b" / ".hidden.png").write_bytes(b"x"),
            ),
            r"'b' \(.*/b: skipped hidden file 1, other extension \(.txt\) 2\)",
        ),
        (_link_to_a, r"'b' \(.*/b: skipped the same folder as 'a', indexed there 1\)"),
    ],
    ids=["empty folder", "no image extension", "a second link to a folder"],
)
def test_a_class_folder_with_no_image_file_is_refused_naming_it_and_what_it_holds(
    tmp_path, setup, expected
):
    root = image_tree(tmp_path / "data", {"a": 2, "c": 2})
    setup(root)

    with pytest.raises(DataError) as caught:
        read_index(root, label="label", path_column="path")

    message = str(caught.value)
    assert message.startswith("class folder 'b' (")
    assert re.search(expected, message), message
    assert message.endswith("any case) to it or remove the folder")
    assert "'c'" not in message  # a class folder with images is not named


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_named_like_an_image_is_indexed_without_reading_it(tmp_path):
    root = image_tree(tmp_path / "data", {"a": 2, "b": 2})
    os.mkfifo(root / "a" / "pipe.png")  # reading it would wait for a writer forever

    index = read_index(root, label="label", path_column="path")

    row = index.frame.filter(pl.col("path") == "a/pipe.png")
    assert (row["bytes"][0], row["sha256"][0]) == (None, None)
