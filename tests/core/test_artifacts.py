"""Artifacts carry the run folder's images inline: the Prefect UI has no folder beside them."""

import base64

from tasks.core.artifacts import artifact_markdown, inline_images, local_links_as_paths
from tasks.core.markdown import render
from tasks.images.rebalance import TEMPLATE as AUGMENTATION
from tasks.images.rebalance import AugmentationFacts

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_images_of_the_run_folder_become_data_uris(tmp_path):
    (tmp_path / "evaluation.png").write_bytes(PNG)
    (tmp_path / "sheets").mkdir()
    (tmp_path / "sheets" / "a.png").write_bytes(PNG)

    markdown = inline_images("x ![chart](evaluation.png) y ![s](sheets/a.png)", tmp_path)

    encoded = base64.b64encode(PNG).decode()
    assert markdown == (
        f"x ![chart](data:image/png;base64,{encoded}) y ![s](data:image/png;base64,{encoded})"
    )


def test_links_outside_the_folder_or_to_missing_files_stay_as_they_are(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "secret.png").write_bytes(PNG)
    text = "![a](../secret.png) ![b](missing.png) ![c](https://example.com/c.png)"

    assert inline_images(text, tmp_path / "run") == text


def test_relative_links_show_the_absolute_path_as_text(tmp_path):
    run = tmp_path / "out" / ".tmp-r1"
    text = (
        "page: [../data\\_docs/runs/r1.html](../data_docs/runs/r1.html); "
        "[every run](../data_docs/index.html); [web](https://example.com/a); [top](#top); "
        "![kept](missing.png)"
    )

    markdown = local_links_as_paths(text, run)

    site = (tmp_path / "out" / "data_docs").resolve()
    assert markdown == (
        f"page: `{site}/runs/r1.html`; every run (`{site}/index.html`); "
        "[web](https://example.com/a); [top](#top); ![kept](missing.png)"
    )


def _augmentation_section(sheet: str | None) -> str:
    facts = AugmentationFacts(
        pipeline_file="augmentations.yaml",
        pipeline={"transform": {"transforms": [{"__class_fullname__": "Affine"}]}},
        contact_sheet=sheet,
        per_class={},
        shards=1,
        shard_size=8,
        originals={"linked": 1, "copied": 0},
        generated=1,
        augment_seconds=0.1,
        images_per_second=None,
    )
    return render(AUGMENTATION, facts=facts)


def test_the_contact_sheet_of_an_image_report_is_embedded_in_its_artifact(tmp_path):
    (tmp_path / "contact_sheet.png").write_bytes(PNG)
    section = _augmentation_section("contact_sheet.png")
    assert "](contact_sheet.png)" in section  # report.md, beside the file, links it

    markdown = artifact_markdown(section, tmp_path)

    encoded = base64.b64encode(PNG).decode()
    assert f"![originals beside augmented copies](data:image/png;base64,{encoded})" in markdown
    assert "contact_sheet.png" not in markdown
