"""report.md (and the Prefect artifact) escape what users named: classes, paths, texts."""

from markdown_it import MarkdownIt

from tasks.core.conflicts import Conflicts
from tasks.core.markdown import render
from tasks.run.class_weights import class_weights
from tasks.run.report import SHOWN_NULL_COLUMNS, render_markdown
from tasks.text.paraphrase import Candidate, ClassStats, Source
from tasks.text.rebalance import EDA_LABEL, EdaFacts, ParaphraseFacts, _report_section
from validations.images import TEMPLATE as IMAGE_CHECKS
from validations.images import BadFile, Duplicates, ImageFindings

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
CLASSES = ["a|b", "<img src=x onerror=alert(1)>", "**bold**"]


def _manifest(sections=(), *, null_counts=None, dropped=0):
    counts = dict(zip(CLASSES, [30, 5, 2], strict=True))
    published = dict(zip(CLASSES, [30, 30, 12], strict=True))
    return {
        "name": "t",
        "run_id": "20260101T000000Z-abcdef",
        "source": {"path": "/data/a|b <x>.csv"},
        "rows": {"read": 40, "dropped": dropped},
        "validation": {
            "null_counts": null_counts or {"x": 0, "label": 0},
            "null_policy": "drop" if dropped else "fail",
            "max_drop_fraction": 0.2,
            "rows_dropped_for_nulls": dropped,
            "result": "r",
            "data_docs": "d",
        },
        "counts": {
            "before": {"train": counts, "val": counts, "test": counts},
            "after": {"train": published},
        },
        "rebalance": {"requested": "SMOTE", "sampler": "SMOTE", "params": {"k|": "<b>"}},
        "notes": ["class 'a|b' has <b>4</b> rows"],
        "class_weights": class_weights(counts, published, beta=0.9, label="y"),
        "report_sections": list(sections),
    }


def _rows(html: str) -> list[int]:
    """Cells per table row."""
    return [row.count("<td") for row in html.split("<tr>")[1:] if "<td" in row]


def test_class_names_paths_and_notes_show_as_written_and_keep_the_tables_whole():
    html = GFM.render(render_markdown(_manifest()))

    # counts (5 columns), bars (3 columns), two tables of weights (4 columns)
    assert set(_rows(html)) == {5, 3, 4}
    assert html.count("<img") == 1  # the chart; the class named like an image tag is text
    assert "<b>" not in html and "<strong>" not in html
    for name in CLASSES:
        assert name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
    assert "/data/a|b &lt;x&gt;.csv" in html
    assert "class 'a|b' has &lt;b&gt;4&lt;/b&gt; rows" in html


def test_class_names_with_line_breaks_and_bold_tags_stay_one_cell_each(monkeypatch):
    monkeypatch.setitem(globals(), "CLASSES", ["two\nlines", "<b>x</b>", "a|b"])
    html = GFM.render(render_markdown(_manifest()))

    assert set(_rows(html)) == {5, 3, 4}
    assert "two lines" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html


def test_the_prefect_artifact_keeps_its_chart_and_escapes_the_rest():
    markdown = render_markdown(_manifest(), chart="data:image/png;base64,AAAA")

    assert "![class counts per split](data:image/png;base64,AAAA)" in markdown
    assert GFM.render(markdown).count("<img") == 1


def test_modality_sections_escape_file_paths_and_texts():
    images = render(
        IMAGE_CHECKS,
        findings=ImageFindings(
            bad_files_policy="skip",
            bad_files=[BadFile("a|b/<x>.png", "zero bytes | empty")],
            max_pixels=10,
            duplicates=Duplicates(0, 0, 0),
            modes={"L": 1},
            exif_rotated=0,
            animated=0,
        ),
    )
    stats = ClassStats(needed=1, attempted=1, accepted=1)
    text = _report_section(
        ParaphraseFacts("eda", "majority", EdaFacts(EDA_LABEL, 0.1), 0.1, {"a|b": stats}),
        [
            (
                Candidate("a|b", Source(1, "line one\nline <b>two</b> | x"), "para | <i>p</i>", 0),
                None,
                "eda",
            )
        ],
    )

    html = GFM.render(render_markdown(_manifest([images, text])))

    assert "<b>" not in html and "<i>" not in html
    assert "<code>a|b/&lt;x&gt;.png</code>" in html
    assert "line one ⏎ line &lt;b&gt;two&lt;/b&gt; | x" in html
    assert set(_rows(html)) <= {2, 3, 4, 5, 6}


def test_class_weights_show_both_sets_labelled_with_their_rows():
    markdown = render_markdown(_manifest())

    section = markdown[markdown.index("## Class weights") :]
    before = section.index("### Before rebalancing")
    published = section.index("### As published")
    assert "one correction, not both" in section
    assert before < published
    # 37 rows in 3 classes: "**bold**" has 2 before (37 / 6 = 6.1667), 12 as published (72 / 36).
    assert "| \\*\\*bold\\*\\* | 2 | 6.1667 |" in section[before:published]
    assert "| \\*\\*bold\\*\\* | 12 | 2.0000 |" in section[published:]


def _section(markdown: str, heading: str) -> str:
    """The lines of one `## heading` section, without the heading."""
    after = markdown.split(f"## {heading}\n", 1)[1]
    return after.split("\n## ", 1)[0].strip()


def test_the_report_lists_the_nulls_of_each_column_and_the_rows_the_policy_dropped():
    # 8 rows dropped for 7 + 3 nulls: two rows had both.
    manifest = _manifest(null_counts={"x": 3, "a|b": 0, "notes": 7, "label": 0}, dropped=8)

    section = _section(render_markdown(manifest), "Nulls by column")

    assert section.splitlines()[:4] == [
        "| column | nulls | rows read | share |",
        "|---|---:|---:|---:|",
        "| notes | 7 | 40 | 17.5% |",
        "| x | 3 | 40 | 7.5% |",
    ]
    assert (
        "`validation.null_policy` `drop` dropped 8 of the 40 rows read (20.0%, within "
        "`validation.max_drop_fraction` 0.2). A row is dropped once however many of its "
        "columns are null, so the counts above can add up to more."
    ) in section
    assert "a\\|b" not in section  # a column without nulls is not listed


def test_a_wide_tables_null_table_lists_the_columns_with_most_nulls_and_counts_the_rest():
    null_counts = {f"c{i:04d}": 1 + i % 7 for i in range(3_000)} | {"label": 0}
    manifest = _manifest(null_counts=null_counts, dropped=30)

    section = _section(render_markdown(manifest), "Nulls by column")

    rows = [line for line in section.splitlines() if line.startswith("| c0")]
    assert len(rows) == SHOWN_NULL_COLUMNS
    # Most nulls first (7 each: c0006, c0013, ...), in the columns' order among equals.
    assert rows[:2] == ["| c0006 | 7 | 40 | 17.5% |", "| c0013 | 7 | 40 | 17.5% |"]
    assert f"And {3_000 - SHOWN_NULL_COLUMNS} more columns with fewer nulls" in section


def test_a_run_without_nulls_says_so_in_one_line():
    section = _section(render_markdown(_manifest()), "Nulls by column")

    assert section == "None of the 2 checked columns had nulls."


def test_the_sampler_section_says_how_many_contradicting_samples_were_found():
    clean = _manifest()
    clean["rebalance"]["conflicts"] = Conflicts("equal values").as_manifest()
    found = _manifest()
    found["rebalance"]["conflicts"] = Conflicts.counted(
        "equal values", found={"a|b": 3}, dropped={"a|b": 1}
    ).as_manifest()

    assert (
        "- synthetic samples identical to an original sample of another class (in train, val "
        "or test): 0 found, 0 replaced, 0 dropped\n- identical means: equal values\n"
    ) in render_markdown(clean)
    assert "2 replaced, 1 dropped\n  - class a\\|b: 3 found, 2 replaced, 1 dropped\n" in (
        render_markdown(found)
    )
    assert "identical to an original" not in render_markdown(_manifest())


def test_a_run_that_resampled_nothing_says_none_ran():
    manifest = _manifest()
    manifest["rebalance"] = {"requested": "auto", "sampler": None, "params": {}}

    assert "- asked for: `auto`; ran: `none`\n" in render_markdown(manifest)


def test_a_hash_split_says_so_with_its_pins_and_a_stratified_one_stays_silent():
    manifest = _manifest()
    manifest["split"] = {"method": "hash", "seed": 7, "pinned": {"00ff": "test", "0a": "val"}}

    report = render_markdown(manifest)

    assert "Split by key hash (seed 7): rows keep their split as the data grows." in report
    assert "other than their hash's (kept by later runs): 2.\n" in report
    assert "key hash" not in render_markdown({**manifest, "split": {"method": "stratified"}})


def test_the_report_lists_every_expectation_with_its_status_and_links_the_data_docs():
    manifest = _manifest()
    manifest["validation"] |= {
        "data_docs": "../data_docs/index.html",
        "data_docs_page": "../data_docs/runs/20260101T000000Z-abcdef.html",
        "expectations": [
            {
                "expectation": "ExpectColumnValuesToBeInSet",
                "kwargs": {"column": "a|b", "value_set": ["<b>"]},
                "severity": "warn",
                "status": "warning",
                "observed": "2 unexpected of 40 values (5.00%), e.g. '<i>x</i>'",
            },
            {
                "expectation": "ExpectTableRowCountToBeBetween",
                "kwargs": {"min_value": 10},
                "severity": "fail",
                "status": "passed",
                "observed": "observed value 40",
            },
        ],
    }

    markdown = render_markdown(manifest)
    section = _section(markdown, "Expectations")
    html = GFM.render(section)

    assert _rows(html) == [5, 5]
    assert "<b>" not in html and "<i>" not in html
    assert "| ExpectTableRowCountToBeBetween | `{'min_value': 10}` | fail | passed |" in section
    assert "](../data_docs/runs/20260101T000000Z-abcdef.html)" in section
    assert "](../data_docs/index.html)" in section


def test_the_report_says_when_no_expectation_was_declared():
    section = _section(render_markdown(_manifest()), "Expectations")

    assert section.startswith("No expectations declared besides the null check")


def test_a_modalitys_findings_are_one_line_each_lists_by_their_length():
    manifest = _manifest()
    manifest["validation"] |= {
        "bad_files": [{"path": "a/1.png", "problem": "zero bytes"}] * 3,
        "skipped": {"a": {"zero bytes": 3}, "b": {}},
        "duplicate_text_rows": 2,
    }

    lines = render_markdown(manifest).splitlines()

    assert "- bad_files: 3 (each in manifest.json)" in lines
    assert "- skipped: a: zero bytes: 3; b: none" in lines
    assert "- duplicate_text_rows: 2" in lines
    findings = lines[lines.index("- bad_files: 3 (each in manifest.json)") :][:3]
    assert not [line for line in findings if "{" in line or "[" in line]
