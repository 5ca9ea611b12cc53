"""Values written into markdown show as written: no table split, no HTML, no emphasis."""

import pytest
from markdown_it import MarkdownIt

from tasks.core.markdown import code_span, escape_markdown

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "a|b",
    "<script>alert(1)</script>",
    "**bold** _it_ `code`",
    "[link](http://x) ![img](y)",
    "&lt; &amp; ~~gone~~ # 1",
    "back\\slash",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_an_escaped_value_is_one_table_cell_that_reads_as_written(value):
    table = f"| class | count |\n|---|---:|\n| {escape_markdown(value)} | 3 |\n"

    html = GFM.render(table)

    assert html.count("<td") == 2
    assert "<script>" not in html and "<strong>" not in html and "<em>" not in html
    assert "<a href" not in html and "<img" not in html and "<s>" not in html
    text = GFM.parseInline(escape_markdown(value))[0].children
    assert "".join(child.content for child in text if child.type == "text") == value


def test_line_breaks_become_spaces():
    assert escape_markdown("one\ntwo\r\nthree") == "one two three"


@pytest.mark.parametrize("value", ["a|b", "x`y", "`edge`", "``two``"])
def test_a_code_span_holds_the_value_inside_and_outside_tables(value):
    inline = GFM.parseInline(str(code_span(value)))[0].children
    assert [child.type for child in inline] == ["code_inline"]
    assert inline[0].content == value

    row = f"| file |\n|---|\n| {code_span(value, in_table=True)} |\n"
    html = GFM.render(row)
    assert html.count("<td") == 1
    body = [token for token in GFM.parse(row) if token.type == "inline"][-1]
    assert [child.type for child in body.children] == ["code_inline"]
    assert body.children[0].content == value
