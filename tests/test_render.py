"""The document pane's HTML: dialogues as turns, speaker tags in bold, spans kept.

Expected strings are written out by hand from the escaping table of ``ui/render.py``:
``:`` -> ``&#58;``, ``#`` -> ``&#35;``, ``.`` -> ``&#46;``, ``!`` -> ``&#33;``,
``'`` -> ``&#39;``, ``-`` -> ``&#45;``, ``)`` -> ``&#41;`` (``,`` and ``?`` stay).
"""
from __future__ import annotations

import html
import re

import pytest

from ui.render import TURN_OPEN, document_html, highlight, is_dialogue

D = "<div style='margin:0 0 0.3em 0;min-height:1em'>"

SAMSUM = (
    "Amanda: I baked cookies. Do you want some?\n"
    "Jerry: Sure!\n"
    "Amanda: I'll bring you some tomorrow :-)"
)
DIALOGSUM = (
    "#Person1#: Hello, how are you?\n"
    "#Person2#: Not great. I have a cough.\n"
    "#Person1#: Let me listen."
)


def _text_of(out: str) -> str:
    """What a browser shows: one line per block, tags gone, references resolved."""
    return html.unescape(re.sub(r"<[^>]*>", "", out.replace("</div>", "\n")))[:-1]


def test_turn_block_is_the_documented_one():
    assert TURN_OPEN == D


def test_samsum_chat_one_turn_per_line_names_in_bold_one_turn_highlighted():
    start = SAMSUM.index("Jerry")
    end = start + len("Jerry: Sure!")
    assert (start, end) == (43, 55)  # the span the summarizer gives for the second turn
    assert is_dialogue(SAMSUM)
    assert document_html(SAMSUM, [(start, end)], dialogue=True) == (
        D + "<b>Amanda&#58;</b> I baked cookies&#46; Do you want some?</div>"
        + D + "<mark><b>Jerry&#58;</b> Sure&#33;</mark></div>"
        + D + "<b>Amanda&#58;</b> I&#39;ll bring you some tomorrow &#58;&#45;&#41;</div>"
    )


def test_dialogsum_tags_bold_and_a_span_across_two_turns_is_cut_per_line():
    # lines: [0, 30), [31, 68), [69, 94); the span starts inside the tag #Person2#:
    # (at "son2") and ends inside the next tag (after "#Perso")
    assert is_dialogue(DIALOGSUM)
    assert document_html(DIALOGSUM, [(35, 75)], dialogue=True) == (
        D + "<b>&#35;Person1&#35;&#58;</b> Hello, how are you?</div>"
        + D + "<b>&#35;Per</b><mark><b>son2&#35;&#58;</b> Not great&#46; I have a cough&#46;"
        "</mark></div>"
        + D + "<mark><b>&#35;Perso</b></mark><b>n1&#35;&#58;</b> Let me listen&#46;</div>"
    )


def test_dialogsum_whole_turns_highlighted_with_tag_and_style():
    out = document_html(DIALOGSUM, [(69, 94), (0, 30)], dialogue=True, tag="span",
                        style="background:#ff0")
    assert out == (
        D + '<span style="background:#ff0"><b>&#35;Person1&#35;&#58;</b> Hello, how are you?'
        "</span></div>"
        + D + "<b>&#35;Person2&#35;&#58;</b> Not great&#46; I have a cough&#46;</div>"
        + D + '<span style="background:#ff0"><b>&#35;Person1&#35;&#58;</b> Let me listen&#46;'
        "</span></div>"
    )


def test_blank_line_keeps_its_block_and_the_offsets_after_it():
    text = "A: hi\n\nB: ok"
    assert document_html(text, [(7, 12)], dialogue=True) == (
        D + "<b>A&#58;</b> hi</div>" + D + "</div>" + D + "<mark><b>B&#58;</b> ok</mark></div>")


def test_script_quotes_and_ampersands_inside_turns_show_as_text():
    text = (
        "Amanda: <script>alert(\"hi\")</script> & 'bye'\n"
        "O'Neil: a < b && \"c\" > d &amp; &#35;\n"
        "Amanda: <b>ok</b>"
    )
    assert is_dialogue(text)
    out = document_html(text, [(0, text.index("\n"))], dialogue=True)
    assert "<script" not in out and "&lt;script&gt;" in out
    assert set(re.findall(r"</?([a-z]+)", out)) == {"div", "b", "mark"}
    assert out.count("<b>") == 3  # the three tags, not the <b> typed in a turn
    assert "<b>O&#39;Neil&#58;</b>" in out
    assert _text_of(out) == text


@pytest.mark.parametrize("text", [SAMSUM, DIALOGSUM, "张三：你好。今天下午有空吗\n李四:有空。怎么了？"])
def test_every_span_layout_gives_back_the_text(text):
    n = len(text)
    for spans in ([], [(0, n)], [(1, 3), (2, 9), (n - 4, n)], [(0, 0), (5, 5)]):
        assert _text_of(document_html(text, spans, dialogue=True)) == text


def test_chinese_chat_tags_bold():
    text = "张三：你好。\n李四:有空。"
    assert document_html(text, [], dialogue=True) == (
        D + "<b>张三：</b>你好。</div>" + D + "<b>李四&#58;</b>有空。</div>")


@pytest.mark.parametrize("text, spans", [
    ("Plain prose. A second sentence *with* $5.\nA new paragraph: here.", [(0, 12), (43, 65)]),
    ("Note: one tagged line only.\nThe rest is prose.", [(0, 27)]),
    ("", []),
])
def test_non_dialogue_text_is_exactly_highlight(text, spans):
    assert not is_dialogue(text)
    assert document_html(text, spans, dialogue=False) == highlight(text, spans)
    assert document_html(text, spans, dialogue=False, tag="span", style="x") == \
        highlight(text, spans, tag="span", style="x")


def test_highlight_is_unchanged():
    assert highlight("a <b> c d", [(4, 5), (0, 1), (2, 5)]) == \
        "<mark>a</mark> <mark>&lt;b&gt;</mark> c d"
    assert highlight("Line one.\nTwo", [(10, 13)]) == "Line one&#46;<br><mark>Two</mark>"
