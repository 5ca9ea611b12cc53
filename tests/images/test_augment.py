"""The augmentation pipeline, the round-robin plan and one image's pixels."""

import io
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from rebalance.config import parse_config
from rebalance.errors import ConfigError
from tasks.images.augment import augment, image_seed, round_robin
from tasks.images.pipeline import build_pipeline, pipeline_dict, save_pipeline
from tasks.images.pixels import Pixels, encode, load_pixels, pillow_pixels, plain_jpeg_components
from tests.image_helpers import (
    pattern,
    write_animated,
    write_cmyk_jpeg,
    write_image,
    write_rotated_jpeg,
)


def test_default_pipeline_covers_scale_crop_pad_flip_rotate_and_color():
    compose = build_pipeline(None, seed=0)

    names = [type(t).__name__ for t in compose.transforms]
    assert names == ["Affine", "CropAndPad", "HorizontalFlip", "ColorJitter"]
    affine, crop_pad, _, jitter = compose.transforms
    assert affine.rotate == (-15, 15) and affine.scale == {"x": (0.9, 1.1), "y": (0.9, 1.1)}
    assert crop_pad.percent == (-0.1, 0.1)  # negative crops, positive pads
    assert (jitter.brightness, jitter.contrast, jitter.saturation) == (
        (0.8, 1.2),
        (0.8, 1.2),
        (0.8, 1.2),
    )


def test_pipeline_from_names_and_their_own_params():
    compose = build_pipeline(["HorizontalFlip", {"Rotate": {"limit": 10, "p": 1.0}}], seed=0)

    assert [type(t).__name__ for t in compose.transforms] == ["HorizontalFlip", "Rotate"]
    assert compose.transforms[1].limit == (-10, 10)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (["HorizontalFlipp"], r"\[0\]: 'HorizontalFlipp' is not an albumentations transform"),
        (["Compose"], "is not an albumentations transform"),
        (
            [{"Rotate": {"limt": 10}}],
            r"\[0\]: Rotate has no parameter 'limt' \(did you mean 'limit'\?\); its parameters",
        ),
        (
            [{"Rotate": {"limit": "x"}}],
            r"^rebalance\.augmentations\[0\]: Rotate parameter 'limit' must be a valid tuple or a "
            r"valid number, not 'x'; see Rotate in the albumentations docs$",
        ),
        (
            # Values the config's bounds leave to albumentations: one clause per parameter.
            ["HorizontalFlip", {"Affine": {"rotate": "x", "shear": "y"}}],
            r"^rebalance\.augmentations\[1\]: Affine parameter 'rotate' must be .*, not 'x'; "
            r"Affine parameter 'shear' must be .*, not 'y'; see Affine in the albumentations docs$",
        ),
        (
            [{"ColorJitter": {"brightness": -1}}],
            r"ColorJitter parameter 'brightness' = -1: If brightness is a single number, it must",
        ),
        ([{"A": {}, "B": {}}], r"must be a transform name or"),
        ([{"RandomSizedBBoxSafeCrop": {"height": 8, "width": 8}}], "fail on a RGB image"),
    ],
)
def test_bad_pipeline_is_a_config_error_naming_the_entry(spec, expected):
    with pytest.raises(ConfigError, match=expected):
        build_pipeline(spec, seed=0)


def test_a_bad_value_in_a_saved_pipeline_is_one_sentence_without_pydantics_report(tmp_path):
    path = tmp_path / "p.yaml"
    save_pipeline(build_pipeline([{"Affine": {"p": 0.5}}], seed=0), path)
    path.write_text(path.read_text().replace("p: 0.5", "p: 7"))

    with pytest.raises(ConfigError, match=r"parameter 'p' must be less than or equal to 1, not 7"):
        build_pipeline(path, seed=0)
    try:
        build_pipeline(path, seed=0)
    except ConfigError as exc:
        assert "pydantic.dev" not in str(exc)
        assert "\n" not in str(exc)


def test_saved_pipeline_round_trips_through_albumentations_load(tmp_path):
    compose = build_pipeline(
        [{"Affine": {"rotate": [-5, 5], "p": 0.9}}, {"ColorJitter": {"p": 1}}], seed=3
    )
    save_pipeline(compose, tmp_path / "p.yaml")

    loaded = build_pipeline(tmp_path / "p.yaml", seed=3)

    assert pipeline_dict(loaded) == pipeline_dict(compose)
    assert A.to_dict(A.load(str(tmp_path / "p.yaml"), data_format="yaml")) == A.to_dict(compose)


def test_augmentations_file_path_resolves_against_the_config_folder(tmp_path):
    from rebalance.config import load_config

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "c.yaml").write_text(
        "name: d\nmodality: image\nsource: imgs\nrebalance:\n  augmentations: p.yaml\n"
    )

    config = load_config(tmp_path / "conf" / "c.yaml")

    assert config.rebalance.augmentations == tmp_path / "conf" / "p.yaml"


def test_image_config_defaults_and_unknown_keys():
    config = parse_config({"name": "d", "modality": "image", "source": "imgs"})

    assert config.label == "label" and config.path_column == "path"
    assert config.validation.bad_files == "fail"
    assert config.validation.max_pixels == 89_478_485
    assert config.rebalance.target == "majority"
    assert config.rebalance.undersample is False
    assert config.rebalance.format == "source"
    with pytest.raises(ConfigError, match=r"unknown key 'rebalance\.sampler'"):
        parse_config({"name": "d", "modality": "image", "source": "i", "rebalance": {"sampler": 1}})
    with pytest.raises(ConfigError, match="'modality': 'video' is not one of tabular, image, text"):
        parse_config({"name": "d", "modality": "video", "source": "i", "label": "y"})
    assert parse_config({"name": "d", "source": "x.csv", "label": "y"}).modality == "tabular"


@given(st.integers(1, 40), st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_round_robin_uses_every_source_floor_or_ceil_of_k_times(sources, wanted, seed):
    uses = round_robin(sources, wanted, rng=np.random.default_rng(seed))

    assert uses.sum() == wanted
    assert set(uses.tolist()) <= {wanted // sources, -(-wanted // sources)}


def test_round_robin_spreads_the_extra_uses_by_seed():
    first = round_robin(10, 3, rng=np.random.default_rng(1))
    second = round_robin(10, 3, rng=np.random.default_rng(2))

    assert first.sum() == second.sum() == 3
    assert not np.array_equal(first, second)


def test_image_seed_depends_on_run_seed_source_and_index():
    seeds = {
        image_seed(0, "a/x.png", 0),
        image_seed(0, "a/x.png", 1),
        image_seed(0, "a/y.png", 0),
        image_seed(1, "a/x.png", 0),
    }

    assert len(seeds) == 4
    assert image_seed(0, "a/x.png", 0) == image_seed(0, "a/x.png", 0)


@pytest.mark.parametrize(
    ("kind", "mode", "dtype", "channels"),
    [
        ("L", "L", np.uint8, 1),
        ("RGB", "RGB", np.uint8, 3),
        ("RGBA", "RGBA", np.uint8, 4),
        ("I;16", "I;16", np.uint16, 1),
    ],
)
def test_augmented_image_keeps_the_pixel_kind(tmp_path, kind, mode, dtype, channels):
    path = write_image(tmp_path / "x.png", kind)
    pixels = load_pixels(path)
    compose = build_pipeline(
        [{"Affine": {"rotate": [20, 20], "p": 1}}, {"ColorJitter": {"p": 1}}], seed=0
    )

    made, applied = augment(compose, pixels, seed=5)
    data, extension = encode(made, extension=".png")

    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == mode
        assert len(image.getbands()) == channels
        array = np.asarray(image)
    assert extension == ".png"
    assert array.dtype == dtype
    assert [name for name, _ in applied] == ["Affine", "ColorJitter"]
    if kind == "I;16":
        assert array.max() > 255  # still uses the 16-bit range, not squashed to 8 bits
    if kind == "RGBA":
        alpha = array[..., 3]
        assert 0 < (alpha == 0).mean() < 1  # the transparent half moved with the image


def test_palette_image_is_augmented_as_rgb_with_a_note(tmp_path):
    pixels = load_pixels(write_image(tmp_path / "p.png", "P"))

    assert pixels.mode == "RGB"
    assert pixels.note == "palette image written as RGB(A)"


def test_cmyk_jpeg_is_augmented_as_rgb_with_a_note_and_stays_deterministic(tmp_path):
    path = write_cmyk_jpeg(tmp_path / "c.jpg", size=(24, 16))
    compose = build_pipeline(None, seed=0)

    pixels = load_pixels(path)
    first, _ = augment(compose, pixels, seed=5)
    again, _ = augment(compose, load_pixels(path), seed=5)

    assert (pixels.mode, pixels.image.shape) == ("RGB", (24, 16, 3))
    assert pixels.note == "CMYK image written as RGB"
    # Pillow's conversion: red = (255 - cyan)(255 - black)/255; the helper's cyan is the
    # pattern and its black 20.
    expected_red = (255 - pattern((24, 16)).astype(int)) * 235 / 255
    assert np.abs(pixels.image[..., 0].astype(int) - expected_red).mean() < 4
    assert np.array_equal(first.image, again.image)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animated_image_gives_its_first_frame_with_a_note(tmp_path, suffix):
    path = write_animated(tmp_path / f"a{suffix}", frames=3, size=(24, 16))

    pixels = load_pixels(path)

    assert pixels.image.shape == (24, 16, 3)
    assert np.abs(pixels.image[..., 0].astype(int) - pattern((24, 16))).max() <= 8
    assert pixels.note.startswith("animated image: first frame used")


def test_exif_orientation_is_applied_before_augmenting(tmp_path):
    path = write_rotated_jpeg(tmp_path / "r.jpg", size=(24, 16))
    with Image.open(path) as stored:
        assert stored.size == (16, 24)

    pixels = load_pixels(path)

    assert pixels.image.shape[:2] == (16, 24)  # upright: 24 wide, 16 high
    expected = np.rot90(pattern((24, 16)), k=-1)  # orientation 6: rotate 90° clockwise
    assert np.abs(pixels.image[..., 0].astype(int) - expected).mean() < 4


def test_jpeg_format_cannot_hold_alpha_so_png_is_written(tmp_path):
    pixels = load_pixels(write_image(tmp_path / "x.png", "RGBA"))

    _, extension = encode(pixels, extension=".jpg")

    assert extension == ".png"


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path):
    pixels = load_pixels(write_image(Path(tmp_path) / "x.png", "RGB"))
    compose = build_pipeline(None, seed=0)

    first, _ = augment(compose, pixels, seed=11)
    again, _ = augment(compose, pixels, seed=11)
    other, _ = augment(compose, pixels, seed=12)

    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


@pytest.mark.parametrize("target", ["most", 0, {"a": 0}, True, [3]])
def test_bad_target_is_one_message_naming_the_key(target):
    raw = {"name": "d", "modality": "image", "source": "i", "rebalance": {"target": target}}

    with pytest.raises(ConfigError) as caught:
        parse_config(raw)

    assert str(caught.value) == (
        "config: 'rebalance.target': must be 'majority', a count of at least 1, or a mapping "
        f"of class to count, got {target!r}"
    )


def _photo(size=(61, 83), *, seed=0) -> np.ndarray:
    """A smooth RGB gradient with noise: JPEG-like content, odd sizes (partial MCUs)."""
    rng = np.random.default_rng(seed)
    height, width = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.dstack([x * 3, y * 2, (x + y) * 1.5]) % 256
    return (base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8)


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


JPEG_VARIANTS = {
    "rgb": lambda: _jpeg(Image.fromarray(_photo())),
    "gray": lambda: _jpeg(Image.fromarray(_photo()[..., 0])),
    "progressive": lambda: _jpeg(Image.fromarray(_photo()), progressive=True),
    "4:4:4": lambda: _jpeg(Image.fromarray(_photo()), subsampling=0),
    "cmyk": lambda: _jpeg(Image.fromarray(_photo()).convert("CMYK")),
    "exif rotated": lambda: _jpeg(Image.fromarray(_photo()), exif=_orientation(6)),
}


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


@pytest.mark.parametrize("variant", sorted(JPEG_VARIANTS))
def test_jpeg_pixels_equal_pillows_whichever_decoder_runs(tmp_path, variant):
    path = tmp_path / "x.jpg"
    path.write_bytes(JPEG_VARIANTS[variant]())
    with Image.open(path) as opened:
        expected = pillow_pixels(opened)

    pixels = load_pixels(path)

    assert pixels.image.dtype == expected.image.dtype
    assert np.array_equal(pixels.image, expected.image)
    assert pixels.note == expected.note


@pytest.mark.parametrize(
    ("variant", "components"),
    [("rgb", 3), ("gray", 1), ("progressive", 3), ("4:4:4", 3), ("cmyk", None)],
)
def test_only_plain_upright_jpegs_take_the_opencv_decoder(variant, components):
    assert plain_jpeg_components(JPEG_VARIANTS[variant]()) == components


def test_exif_or_non_jpeg_data_takes_pillows_decoder():
    assert plain_jpeg_components(JPEG_VARIANTS["exif rotated"]()) is None
    assert plain_jpeg_components(b"\x89PNG\r\n\x1a\n") is None
    assert plain_jpeg_components(JPEG_VARIANTS["rgb"]()[:40]) is None  # header cut short


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_bytes_equal_pillows_encoder(channels):
    image = _photo(seed=channels)
    image = image[..., 0] if channels == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)

    data, extension = encode(Pixels(image, None), extension=".jpg")

    assert extension == ".jpg"
    assert data == buffer.getvalue()
