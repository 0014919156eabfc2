"""Clean extracted text into tidy paragraphs.

Every loader (plain text, Markdown, HTML, PDF, DOCX) funnels its text through
:func:`clean_text`, so that summarizers see one shape: paragraphs separated by exactly one
blank line, and inside a paragraph a line break only where it means something (a list
item, a heading, the end of a sentence). The sentence splitter in ``nlp.py`` ends a
sentence at every line break, so a PDF's one-line-per-printed-line text, with words
hyphenated across line ends, must be re-flowed first or every line becomes a "sentence".

Departure for dialogues and chat transcripts (SAMSum, DialogSum): a speaker turn is a unit
of its own, so in a paragraph that looks like a dialogue (:func:`looks_like_dialogue`)
every line that opens with a speaker tag (``Amanda:``, ``#Person1#:``, ``张三：``) starts a
new line, even when the turn before it has no final punctuation (``B: lol`` then ``A: ok``).
The tag rule lives here, once; ``nlp.py`` and ``keyphrases.py`` import it.

Each step is one pass over the text (``str`` methods, one character-class regex, a loop
over lines), so a 100 MB file or a 500,000-character line costs linear time: there is no
regex with nested quantifiers that could backtrack.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Dict, Iterator, List, Sequence

# -- character map -------------------------------------------------------------------
# Ligatures that PDF producers emit for "fi", "fl", ... (NFC keeps them; NFKC would too
# much else, e.g. superscripts and full-width letters).
_LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st",
}
# Every Unicode space separator (category Zs) other than the plain space.
_SPACES = "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
# Invisible format characters: soft hyphen, zero-width space/joiners, word joiner and
# invisible operators, bidi marks and embeddings, BOM. They split words for the tokenizer.
_INVISIBLE = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# Control characters that separate lines (vertical tab, form feed between PDF pages,
# file/group/record separators, NEL, LINE SEPARATOR): dropping them would glue the words
# on either side together, so they become line breaks.
_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028"
_CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x0A]

_CHAR_MAP: Dict[str, str] = {}
_CHAR_MAP.update({c: "" for c in _CONTROLS})
_CHAR_MAP.update({c: "" for c in _INVISIBLE})
_CHAR_MAP.update({c: " " for c in _SPACES})
_CHAR_MAP.update({c: "\n" for c in _LINE_BREAKS})
_CHAR_MAP.update(_LIGATURES)
_CHAR_MAP.update({"\t": " ", "\u2029": "\n\n"})  # U+2029 is PARAGRAPH SEPARATOR
_SPECIAL = re.compile("[" + "".join(re.escape(c) for c in sorted(_CHAR_MAP)) + "]")
_SPACE_RUN = re.compile(" {2,}")

# -- line-joining rules --------------------------------------------------------------
_FINAL = frozenset(".!?:;…。！？：；．")
# Closing quotes and brackets after final punctuation: `end."`, `完了。」`, `(see 2.)`.
_CLOSERS = "\"'”’»›」』）)]"
_BULLETS = frozenset("-*•●◦▪‣–#")
_NUMBERED = re.compile(r"\d{1,9}[.)](?:\s|$)")
_ATX_HEADING = re.compile(r"#{1,6}(?:\s|$)")
_HYPHEN_REPAIR = "\x00"  # sentinel separator: drop the hyphen ending the previous line

# -- speaker tags --------------------------------------------------------------------
# A turn opens with a name of 1-3 words (any case, starting with a letter; "Mr.",
# "R.city", "Ann-Christine", "O'Neil", "张三" are one word, "?!,;" never occur), or
# DialogSum's "#Person1#", then an optional space ("JUAN :") and a colon, ASCII or
# full-width. "http://" is not a tag.
# Only the first _TAG_WINDOW characters of a line are looked at, so the check costs
# constant time per line however long the line is.
MAX_TAG_CHARS = 30
_TAG_WINDOW = MAX_TAG_CHARS + 4  # the name, a space, the colon, the "//" lookahead
_NAME_WORD = r"[^\W\d_][\w'’.\-]*"
SPEAKER_TAG = re.compile(
    rf"(?P<name>#[^\W_]{{1,20}}#|{_NAME_WORD}(?: {_NAME_WORD}){{0,2}}) ?[:：](?!//)"
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Return ``text`` normalized, re-flowed into paragraphs, and stripped.

    Steps, in order:

    1. ``\\r\\n`` and ``\\r`` become ``\\n``.
    2. Character map: ligatures (``ﬁ`` -> ``fi``), Unicode spaces (NBSP, thin space,
       ideographic space) and tabs -> space; zero-width characters, soft hyphens, bidi
       marks, BOM and control characters are dropped, except the line-separating ones
       (form feed, vertical tab, NEL, U+2028) which become ``\\n`` so that the words on
       either side stay apart.
    3. Unicode NFC, so that ``e`` + combining acute and ``é`` compare equal.
    4. Per line: runs of spaces collapse to one, and leading/trailing spaces go
       (indentation carries no meaning in a paragraph of prose).
    5. Blank lines separate paragraphs; several collapse to exactly one.
    6. Inside a paragraph each line break is decided by :func:`_separator`: repaired
       hyphenation (``exam-\\nple`` -> ``example``), a kept break (list item, heading,
       sentence end), nothing between two CJK characters, else a space. In a paragraph
       that looks like a dialogue, a line opening with a speaker tag always keeps its
       break (one turn, one line).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATE.sub("", text)  # lone surrogates (from JSON "\ud800") cannot be written as UTF-8
    text = _SPECIAL.sub(lambda m: _CHAR_MAP[m.group()], text)
    text = unicodedata.normalize("NFC", text)
    return "\n\n".join(_join_lines(lines) for lines in _paragraphs(text))


def _paragraphs(text: str) -> Iterator[List[str]]:
    """Groups of non-blank, space-normalized lines separated by blank lines."""
    lines: List[str] = []
    for raw in text.split("\n"):
        line = _SPACE_RUN.sub(" ", raw).strip()
        if line:
            lines.append(line)
        elif lines:
            yield lines
            lines = []
    if lines:
        yield lines


def speaker_tag_end(line: str) -> int:
    """Where the speaker tag opening ``line`` ends (after its colon), or 0 if it has none.

    ``line`` must start at its first character (no leading spaces): ``"Amanda: Hi"`` -> 7,
    ``"#Person1#: Hi"`` -> 10, ``"张三：你好"`` -> 3, ``"It is 10:30"`` -> 0.
    """
    m = SPEAKER_TAG.match(line, 0, _TAG_WINDOW)
    return m.end() if m is not None and len(m.group("name")) <= MAX_TAG_CHARS else 0


def looks_like_dialogue(tagged: Sequence[bool]) -> bool:
    """True when at least two lines, and at least half of them, open with a speaker tag.

    ``tagged`` holds one flag per non-blank line. Two tagged lines, not one: a wrapped
    paragraph or a title plus one "Note: ..." line is prose, not a conversation.
    """
    turns = sum(tagged)
    return turns >= 2 and 2 * turns >= len(tagged)


def _join_lines(lines: List[str]) -> str:
    tagged = [speaker_tag_end(line) > 0 for line in lines]
    dialogue = looks_like_dialogue(tagged)
    out = [lines[0]]
    for prev, line, turn in zip(lines, lines[1:], tagged[1:]):
        # In a dialogue each turn keeps its own line, ending in punctuation or not.
        sep = "\n" if dialogue and turn else _separator(prev, line)
        if sep == _HYPHEN_REPAIR:
            out[-1] = out[-1][:-1]
            sep = ""
        out.append(sep)
        out.append(line)
    return "".join(out)


def _separator(prev: str, line: str) -> str:
    """What replaces the line break between two non-empty, stripped lines."""
    if _starts_block(line) or _ATX_HEADING.match(prev):
        return "\n"  # a list item or heading starts a line; a heading is one line
    last, first = prev[-1], line[0]
    if last == "-" and len(prev) >= 2 and prev[-2].isalpha():
        if prev[-2].islower() and first.islower():
            return _HYPHEN_REPAIR  # "exam-" + "ple"; costs "e-" + "mail" -> "email"
        if first.isalnum():
            return ""  # "Jean-" + "Paul": a real hyphen, not a place for a space
    if _ends_sentence(prev):
        return "\n"
    if _is_cjk(last) and _is_cjk(first):
        return ""  # Chinese and Japanese do not put spaces between words
    return " "


def _starts_block(line: str) -> bool:
    return line[0] in _BULLETS or (line[0].isdigit() and _NUMBERED.match(line) is not None)


def _ends_sentence(line: str) -> bool:
    # A closing quote alone is not an ending: `he said "hello"` may continue the sentence.
    # A line of closers only is not one either (it would end differently once joined).
    core = line.rstrip(_CLOSERS)
    return bool(core) and core[-1] in _FINAL


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # ideographs, extension A
        or 0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width forms (，！？)
        or 0x20000 <= code <= 0x3134F  # ideographs, extensions B-G
    )
