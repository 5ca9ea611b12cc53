"""Artifacts carry the run folder's images inline: the Prefect UI has no folder beside them."""

import base64

from tasks.core.artifacts import inline_images

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
