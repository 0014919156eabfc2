"""A corpus of bad inputs, made here, each loaded and summarized in a child process with a
memory ceiling and a clock: every one ends in a typed error or a valid summary, in
bounded time and memory, and none takes the process down."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.files import zip_bytes

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 3 * 1024**3  # address space of the child, bytes
TIME_LIMIT_S = 60.0  # per case
MAX_BYTES = 20 * 1024 * 1024  # LoaderConfig(max_bytes) in the child; DOCX may unpack 20x

SENTENCES = "The council met on Monday. It approved the budget. Critics were unhappy. "


def _pdf(text_lines=None, *, rect_only=False) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if rect_only:
        pdf.rect(10, 10, 50, 50)
    else:
        pdf.set_font("helvetica", size=12)
        for line in text_lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf(["Secret text here."]))))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_cases(d: Path):
    """(name, path, expected) where expected is "ok" or a DocumentError subclass name."""
    cases = []

    def add(name, filename, data, expected):
        p = d / name / filename
        p.parent.mkdir(parents=True)
        if data is not None:
            p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        cases.append((name, p, expected))
        return p

    add("empty", "a.txt", b"", "EmptyDocumentError")
    add("whitespace-only", "a.txt", " \n\t\n   \r\n", "EmptyDocumentError")
    add("binary-as-txt", "a.txt", bytes(range(256)) * 64, "BinaryFileError")
    add("binary-as-md", "a.md", b"\x00\xff\xfe\x00" * 500, "BinaryFileError")
    add("binary-as-html", "a.html", os.urandom(4096).replace(b"<", b"x"), "BinaryFileError")
    big = add("text-100mb", "a.txt", None, "FileTooLargeError")
    with big.open("wb") as f:
        f.write((SENTENCES * 1400 + "\n").encode() * 1000)  # ~106 MB
    add("one-line-500k-chars", "a.txt", ("word " * 100_000)[:500_000], "ok")
    add("one-line-500k-with-stops", "a.txt", (SENTENCES * 7000)[:500_000], "ok")
    add("long-word-no-spaces", "a.txt", "x" * 200_000, "ok")
    add("corrupt-pdf", "a.pdf", b"%PDF-1.4\n" + os.urandom(3000), "CorruptFileError")
    add("truncated-pdf", "a.pdf", _pdf([SENTENCES])[:400], "CorruptFileError")
    add("encrypted-pdf", "a.pdf", _encrypted_pdf(), "CorruptFileError")
    add("pdf-without-text", "a.pdf", _pdf(rect_only=True), "NoTextLayerError")
    add("not-a-pdf", "a.pdf", SENTENCES, "CorruptFileError")
    add("corrupt-docx", "a.docx", os.urandom(2000), "CorruptFileError")
    add("docx-without-document", "a.docx", zip_bytes([("other.xml", "<x/>")]), "CorruptFileError")
    add("docx-zip-bomb", "a.docx", zip_bytes([("word/document.xml", "<w/>"),
                                          ("word/media/pad.bin", b"\0" * (MAX_BYTES * 20 + 1))]),
        "FileTooLargeError")
    add("utf16-le-bom", "a.txt", "\ufeff".encode("utf-16-le") + SENTENCES.encode("utf-16-le"), "ok")
    add("utf16-be-bom", "a.txt", "\ufeff".encode("utf-16-be") + SENTENCES.encode("utf-16-be"), "ok")
    add("latin1", "a.txt", ("Le café coûte £5. " * 5 + SENTENCES).encode("latin-1"), "ok")
    add("mixed-scripts", "a.txt",
        SENTENCES + " 今天天气很好。我们去公园吧！ مرحبا بالعالم. Привет мир. 😀🎉 ok.", "ok")
    add("control-characters", "a.txt", "The\x01 council\x07 met.\x1b It approved\x0b the budget.\x7f", "ok")
    add("one-sentence", "a.txt", "Only one sentence here.", "ok")
    add("one-word", "a.txt", "Hello", "ok")
    add("only-punctuation", "a.txt", "!!! ??? ... ,,, ;;;", "ok")
    add("unsupported-extension", "a.xyz", SENTENCES, "UnsupportedFormatError")
    add("no-extension", "README", SENTENCES, "UnsupportedFormatError")
    folder = add("folder-named-txt", "a.txt", None, "UnreadableFileError")
    folder.mkdir()
    fifo = add("fifo-named-txt", "a.txt", None, "UnreadableFileError")
    os.mkfifo(fifo)
    add("missing-file", "a.txt", None, "UnreadableFileError")
    loop = add("symlink-loop", "a.txt", None, "UnreadableFileError")
    loop.symlink_to(loop)
    add("html-with-scripts-and-remote-resources", "a.html",
        "<html><head><script>fetch('http://example.com/x')</script>"
        "<link rel=stylesheet href='http://example.com/s.css'></head><body>"
        "<img src='http://example.com/i.png'><iframe src='http://example.com'></iframe>"
        f"<p>{SENTENCES}</p></body></html>", "ok")
    add("html-nested-10k", "a.html", "<div>" * 10_000 + SENTENCES + "</div>" * 10_000, "ok")
    add("invalid-utf8-sprinkled", "a.txt", SENTENCES.encode() + b"\xff\xfe" + SENTENCES.encode(), "ok")
    add("markdown-only-code", "a.md", "```\n" + "x = 1\n" * 1000 + "```\n", "EmptyDocumentError")
    return cases


DRIVER = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
from summarizer import Budget, LoaderConfig, load_document, summarize
from summarizer.errors import CondenseError
config = LoaderConfig(max_bytes={max_bytes})
for line in sys.stdin:
    name, path = json.loads(line)
    start = time.perf_counter()
    out = {{"name": name}}
    try:
        doc = load_document(path, config=config)
        summary = summarize(doc, budget=Budget(sentences=3))
        ok = all(doc.text[s.start:s.end] == s.text for s in summary.sentences)
        out.update(outcome="ok", valid=ok, sentences=len(summary.sentences))
    except CondenseError as e:
        out.update(outcome=type(e).__name__, message=str(e))
    out["seconds"] = time.perf_counter() - start
    print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cases = make_cases(tmp_path_factory.mktemp("bad"))
    code = DRIVER.format(mem=MEMORY_LIMIT, max_bytes=MAX_BYTES)
    stdin = "".join(json.dumps([n, str(p)]) + "\n" for n, p, _ in cases)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, input=stdin, capture_output=True,
                         text=True, timeout=TIME_LIMIT_S * len(cases))
    assert res.returncode == 0, f"the child process died: {res.stderr[-3000:]}"
    got = {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}
    return cases, got


def test_corpus_has_at_least_30_cases(results):
    cases, got = results
    assert len(cases) >= 30
    assert set(got) == {n for n, _, _ in cases}


def test_every_case_ends_as_expected_in_bounded_time(results):
    cases, got = results
    wrong = {n: got[n] for n, _, expected in cases if got[n]["outcome"] != expected}
    assert not wrong, wrong
    slow = {n: got[n]["seconds"] for n in got if got[n]["seconds"] > TIME_LIMIT_S}
    assert not slow, slow


def test_results_are_valid_and_errors_name_the_file(results):
    cases, got = results
    for name, path, expected in cases:
        r = got[name]
        if expected == "ok":
            assert r["valid"] and r["sentences"] >= 1, r
        else:
            assert path.name in r["message"], r
