"""The dataset's Data Docs site: one page per run, the last `keep` runs, readable offline."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import polars as pl
import pytest

from validations import data_docs
from validations.data_docs import offline_page, update_site
from validations.expectations import DECLARED

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<style>.navbar-brand a { background: url('https://example.com/dark.png') 0 0 no-repeat; }</style>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<link rel="shortcut icon" href="../../../static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<a href="../../../../index.html"><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1"/></a>
<script>$(".x").modal();</script>
<a href="../../../../expectations/toy.html">toy</a>
<i class="fas fa-check-circle text-success"></i> Succeeded
</body></html>"""


def test_an_offline_page_loads_nothing_remote_and_links_inside_the_site():
    html = offline_page(GX_HEAD, depth=1)

    loaded = re.findall(r"(?:src|href)=\"([^\"]+)\"", html) + re.findall(r"url\(([^)]*)\)", html)
    assert [url for url in loaded if "://" in url] == []
    assert "<script" not in html
    assert '<img src="../static/logo-long.png"/>' in html
    assert 'href="../static/favicon.ico"' in html
    assert html.count('href="../index.html"') == 2  # home, and the suite's link
    assert '<link rel="stylesheet" href="../static/data_docs_offline.css">' in html
    assert '<i class="fas fa-check-circle text-success"></i> Succeeded' in html
    # GX writes data values unescaped: no script may run, inline handlers included.
    assert html.startswith('<html><head>\n    <meta http-equiv="Content-Security-Policy" ')
    assert "script-src 'none'" in html


def _result(success: bool, *, at: str) -> dict:
    outcome = {
        "success": success,
        "expectation_config": {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 5},
            "meta": {
                "added_by": DECLARED,
                "order": 0,
                "expectation": "ExpectTableRowCountToBeBetween",
                "severity": "warn",
            },
        },
        "result": {"observed_value": 3 if not success else 8},
        "exception_info": {"raised_exception": False},
    }
    return {
        "success": success,
        "results": [outcome],
        "statistics": {"evaluated_expectations": 1, "successful_expectations": int(success)},
        "meta": {"validation_time": at, "run_id": {"run_name": None, "run_time": at}},
    }


@pytest.fixture
def rendered(monkeypatch):
    """GX's page renderer replaced by one that shows the run name it was given."""
    monkeypatch.setattr(
        data_docs,
        "render_validation_page",
        lambda result: (
            f"<html><head></head><body>{result['meta']['run_id']['run_name']}</body></html>"
        ),
    )


def _add(site: Path, tmp_path: Path, run_id: str, *, success=True, failure=None, keep=2) -> Path:
    path = tmp_path / f"{run_id}.json"
    path.write_text(json.dumps(_result(success, at=f"2026-12-0{run_id[-1]}T00:00:00+00:00")))
    return update_site(
        site, dataset="toy", run_id=run_id, result_path=path, keep=keep, failure=failure
    )


def test_the_site_keeps_the_newest_runs_and_deletes_the_older_pages(tmp_path, rendered):
    site = tmp_path / "data_docs"

    pages = [_add(site, tmp_path, f"run-{index}") for index in range(1, 4)]

    runs = json.loads((site / "runs.json").read_text())
    assert [run["run_id"] for run in runs] == ["run-3", "run-2"]
    assert not pages[0].exists()
    assert pages[1].read_text().endswith("<body>run-2</body></html>")
    index = (site / "index.html").read_text()
    assert "run-3" in index and "run-2" in index and "run-1" not in index
    assert (site / "static" / "data_docs_offline.css").is_file()
    assert (site / "static" / "logo-long.png").is_file()


def test_a_rerun_of_the_same_run_replaces_its_line(tmp_path, rendered):
    site = tmp_path / "data_docs"

    _add(site, tmp_path, "run-1", success=False)
    _add(site, tmp_path, "run-1", success=True)

    runs = json.loads((site / "runs.json").read_text())
    assert [(run["run_id"], run["status"]) for run in runs] == [("run-1", "Succeeded")]


def test_the_index_shows_each_runs_status_and_what_was_not_met(tmp_path, rendered):
    site = tmp_path / "data_docs"

    _add(site, tmp_path, "run-1", success=False, keep=5)
    _add(site, tmp_path, "run-2", success=False, failure="null values in 'a' (3) <b>", keep=5)
    _add(site, tmp_path, "run-3", keep=5)

    rows = re.findall(r"<tr class=\"run\">(.*?)</tr>", (site / "index.html").read_text(), re.S)
    assert [
        "✔ Succeeded" in rows[0],
        "✖ Failed" in rows[1],
        "⚠ Passed with warnings" in rows[2],
    ] == [True] * 3
    assert "null values in &#39;a&#39; (3) &lt;b&gt;" in rows[1]
    assert "warn: ExpectTableRowCountToBeBetween on the table: observed value 3" in rows[2]
    assert '<a href="runs/run-3.html">run-3</a>' in rows[0]


@pytest.mark.slow
def test_gx_renders_the_runs_page_with_its_run_id_and_expectations(tmp_path):
    from validations.null_check import check_nulls

    frame = pl.DataFrame({"age": [1, None, 3], "label": ["a", "b", "a"]})
    result = check_nulls(frame, columns=["age", "label"], dataset="toy", output_dir=tmp_path)

    page = update_site(
        tmp_path / "site", dataset="toy", run_id="20261205T000000Z-abcdef",
        result_path=result.result_path, keep=3, failure="null values in 'age' (1)",
    )  # fmt: skip

    html = page.read_text()
    assert "20261205T000000Z-abcdef" in html
    assert "fa-times" in html and "Failed" in html
    assert "<script" not in html
    assert [
        url
        for url in re.findall(r"(?:src|href)=\"([^\"]+)\"", html)
        if "://" in url and "greatexpectations.io" not in url
    ] == []


def test_a_full_disk_leaves_no_part_file_and_the_next_run_repairs_the_site(
    tmp_path, rendered, monkeypatch
):
    import errno
    import shutil

    site = tmp_path / "data_docs"
    copy = shutil.copyfile

    def copy_cut_short(source, target):
        # As on a full disk: part of the file is written, then ENOSPC.
        Path(target).write_bytes(Path(source).read_bytes()[:100])
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(data_docs.shutil, "copyfile", copy_cut_short)
    with pytest.raises(OSError, match="No space left"):
        _add(site, tmp_path, "run-1")

    # Nothing cut short stays under a name a later run would trust.
    assert sorted(path.name for path in (site / "static").iterdir()) == []
    assert [path.name for path in site.rglob(".*.tmp")] == []

    monkeypatch.setattr(data_docs.shutil, "copyfile", copy)
    _add(site, tmp_path, "run-2")

    spec = importlib.util.find_spec("great_expectations")
    images = Path(next(iter(spec.submodule_search_locations))) / "render/view/static/images"
    for name in data_docs.GX_IMAGES:
        assert (site / "static" / name).read_bytes() == (images / name).read_bytes()


def test_a_logo_cut_short_by_an_older_version_is_copied_again(tmp_path, rendered):
    site = tmp_path / "data_docs"
    (site / "static").mkdir(parents=True)
    (site / "static" / "logo-long.png").write_bytes(b"\x89PNG cut short")

    _add(site, tmp_path, "run-1")

    assert (site / "static" / "logo-long.png").stat().st_size > 100
