"""Loaders: every format built inside the test, every bad input, exact text asserted."""
from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfWriter

import summarizer.documents.loaders as loaders
from summarizer.errors import (
    BinaryFileError, CorruptFileError, DocumentError, EmptyDocumentError, FileTooLargeError,
    NoTextLayerError, UnreadableFileError, UnsupportedFormatError,
)
from summarizer.documents.html_text import html_to_text
from tests.files import zip_bytes
from summarizer.documents.loaders import (
    SUPPORTED_EXTENSIONS, LoaderConfig, document_from_text, iter_supported_files,
    load_bytes, load_document,
)

FRENCH = (
    "Le café du coin coûte £5 le matin. Une idée naïve, déjà vue, près du théâtre.\n"
    "Nous étions là à côté de la gare, où l'été était très chaud.\n"
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(error_type: type, path: Path, **kwargs) -> DocumentError:
    with pytest.raises(error_type) as info:
        load_document(path, **kwargs)
    assert path.name in str(info.value)
    assert info.value.source == str(path)
    return info.value


def make_pdf(lines: list) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


PDF_LINES = [
    "Summaries help readers find the main points of a long",
    "document quickly. A good exam-",
    "ple makes the idea clear.",
]
PDF_TEXT = (
    "Summaries help readers find the main points of a long document quickly. "
    "A good example makes the idea clear."
)


# -- plain text ----------------------------------------------------------------------
def test_utf8_text(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "Hello wörld.\nA wrapped\nline.\n\n\nNext.".encode())
    doc = load_document(path)
    assert doc.text == "Hello wörld.\nA wrapped line.\n\nNext."
    assert (doc.lang, doc.source, doc.title) == ("en", str(path), None)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_legacy_western_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    doc = load_document(write(tmp_path, "fr.txt", FRENCH.encode(encoding)))
    assert doc.text == FRENCH.strip()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_byte_order_marks(tmp_path: Path, encoding: str) -> None:
    data = FRENCH.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    assert load_document(write(tmp_path, "bom.txt", data)).text == FRENCH.strip()


def test_utf16_without_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "le.txt", "Plain English text, no BOM.".encode("utf-16-le"))
    assert load_document(path).text == "Plain English text, no BOM."


def test_gb18030_chinese_is_detected(tmp_path: Path) -> None:
    text = "这是一个中文测试文件，我们用来检测编码是否正确。今天天气很好，我们去散步吧。"
    doc = load_document(write(tmp_path, "zh.txt", text.encode("gb18030")))
    assert (doc.text, doc.lang) == (text, "zh")


def test_utf8_cut_mid_character_stays_utf8(tmp_path: Path) -> None:
    # charset-normalizer finds no encoding at all for this; it is UTF-8 with a cut tail.
    text = "这是一个中文测试文件，我们用来检测编码是否正确。" * 5
    doc = load_document(write(tmp_path, "cut.txt", text.encode()[:-1]))
    assert doc.text == text[:-1] + "\ufffd"


def test_utf8_with_a_stray_byte_stays_utf8(tmp_path: Path) -> None:
    data = "It’s “quoted” text. ".encode() + b"Price \xa35." + b" Plain ASCII tail." * 20
    doc = load_document(write(tmp_path, "stray.txt", data))
    assert doc.text.startswith("It’s “quoted” text. Price \ufffd5. Plain ASCII tail.")


def test_language_can_be_forced() -> None:
    assert document_from_text("这是一个测试。").lang == "zh"
    assert document_from_text("这是一个测试。", lang="en").lang == "en"


# -- markdown and html ---------------------------------------------------------------
def test_markdown(tmp_path: Path) -> None:
    source = (
        "---\ntitle: Front matter\n---\n"
        "# Project *Condense*\n\n"
        "Condense writes **short** summaries of [long documents](https://example.com).\n"
        "It runs offline.\n\n"
        "## Usage\n\n"
        "- install it\n- run it\n\n"
        "```python\nprint('dropped')\n```\n\n"
        "<div>Raw <em>HTML</em> text</div>\n"
    )
    doc = load_document(write(tmp_path, "README.md", source.encode()))
    assert doc.title == "Project Condense"
    assert doc.text == (
        "Project Condense\n\n"
        "Condense writes short summaries of long documents. It runs offline.\n\n"
        "Usage\n\ninstall it\n\nrun it\n\nRaw HTML text"
    )


def test_markdown_keeps_sections_named_like_navigation(tmp_path: Path) -> None:
    source = '# Menu\n\n<div class="sidebar">Soup of the day.</div>\n'
    assert load_document(write(tmp_path, "menu.markdown", source.encode())).text == (
        "Menu\n\nSoup of the day."
    )


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Site | Story</title>
<style>p { color: red }</style><script>var tracking = "SCRIPT TEXT";</script></head>
<body class="navigating-news">
<header><a href="/">SITE LOGO</a></header>
<nav><ul><li>Home</li><li>World</li></ul></nav>
<div id="cookie-banner">We use cookies.</div>
<div class="breadcrumbs">Home &gt; World</div>
<article>
  <header><h1>Rivers   rise after storm</h1></header>
  <p>Heavy rain fell for three days.</p>
  <div class="share-buttons">Share on social media</div>
  <p>Officials opened the <b>flood</b> gates.<br>Residents were warned.</p>
  <ul><li>Road A is closed.</li><li>Road B is open.</li></ul>
  <table><tr><td>Level</td><td>4.2 m</td></tr></table>
  <form><input name="q"><button>Subscribe</button></form>
</article>
<aside>Related: other storms</aside>
<footer>Copyright 2024</footer>
<noscript>Enable JavaScript</noscript>
</body></html>"""


def test_html_keeps_the_article_in_order(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "story.html", PAGE.encode()))
    assert doc.title == "Rivers rise after storm"
    assert doc.text == (
        "Rivers rise after storm\n\nHeavy rain fell for three days.\n\n"
        "Officials opened the flood gates.\nResidents were warned.\n\n"
        "Road A is closed.\n\nRoad B is open.\n\nLevel\n\n4.2 m"
    )
    for noise in ("SITE LOGO", "Home", "cookies", "Share", "Subscribe", "Related",
                  "Copyright", "SCRIPT", "color", "JavaScript", "Site |"):
        assert noise not in doc.text


def test_html_without_article_uses_body_and_title_first(tmp_path: Path) -> None:
    page = (
        '<html><head><title>Plain page</title></head><body class="has-sidebar">'
        "<div>Loose text <p>Inner paragraph.</p> tail</div>"
        '<div class="sidebar">Side links</div></body></html>'
    )
    doc = load_document(write(tmp_path, "plain.htm", page.encode()))
    assert doc.title == "Plain page"
    assert doc.text == "Plain page\n\nLoose text\n\nInner paragraph.\n\ntail"


def test_html_declared_charset(tmp_path: Path) -> None:
    page = (
        '<html><head><meta charset="iso-8859-1"></head>'
        "<body><p>Caf\u00e9 \u20ac5 \u2013 ok.</p></body></html>"
    )
    doc = load_document(write(tmp_path, "legacy.html", page.encode("cp1252")))
    assert doc.text == "Café €5 – ok."


def test_html_to_text_roles_and_class_words() -> None:
    page = (
        '<body><div role="navigation">Skip links</div><div role="banner">Banner</div>'
        '<div class="navigating-news"><p>Kept: navigating is not nav.</p></div>'
        '<div id="mainNav">Camel case nav</div><div class="site_menu">Menu</div>'
        '<p>Body text stays.</p><div role="complementary">Aside</div></body>'
    )
    assert html_to_text(page) == "Kept: navigating is not nav.\n\nBody text stays."


def test_html_to_text_largest_article_and_fallback() -> None:
    page = (
        "<body><article><p>Short teaser.</p></article>"
        "<article><h1>Main</h1><p>The long main story, much longer.</p></article></body>"
    )
    assert html_to_text(page) == "Main\n\nThe long main story, much longer."
    # a page of chrome only keeps its text rather than returning nothing
    assert html_to_text("<body><nav>Only navigation here</nav></body>") == "Only navigation here"


def test_html_deep_nesting_is_linear() -> None:
    depth = 20_000  # one get_text() per nested candidate made this take 34 s
    page = '<div class="menu">' * depth + "Deep text." + "</div>" * depth
    start = time.perf_counter()
    assert html_to_text(page) == "Deep text."
    assert time.perf_counter() - start < 5.0


# -- pdf -----------------------------------------------------------------------------
def test_pdf_text_and_hyphen_repair(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "paper.pdf", make_pdf(PDF_LINES)))
    assert doc.text == PDF_TEXT
    assert "example" in doc.text and "exam-" not in doc.text


def test_pdf_pages_become_paragraphs(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in ("Page one ends here.", "Page two starts here."):
        pdf.add_page()
        pdf.cell(text=text)
    doc = load_document(write(tmp_path, "two.pdf", bytes(pdf.output())))
    assert doc.text == "Page one ends here.\n\nPage two starts here."


def test_pdf_with_owner_password_only_opens(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(PDF_LINES)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    assert load_document(write(tmp_path, "open.pdf", buf.getvalue())).text == PDF_TEXT


def test_encrypted_pdf(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(PDF_LINES)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    error = expect_error(CorruptFileError, write(tmp_path, "locked.pdf", buf.getvalue()))
    assert "password" in str(error) and "Decrypt it first" in str(error)


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50)
    error = expect_error(NoTextLayerError, write(tmp_path, "scan.pdf", bytes(pdf.output())))
    assert "ocrmypdf" in str(error)


@pytest.mark.parametrize(
    "data",
    [os.urandom(4096).replace(b"%PDF", b"xxxx"), make_pdf(PDF_LINES)[:600], b"%PDF-1.7\n"],
    ids=["random", "truncated", "header-only"],
)
def test_corrupt_pdf(tmp_path: Path, data: bytes, caplog: pytest.LogCaptureFixture) -> None:
    error = expect_error(CorruptFileError, write(tmp_path, "broken.pdf", data))
    assert "damaged or not a PDF" in str(error)
    assert [r for r in caplog.records if r.name.startswith("pypdf")] == []


# -- docx ----------------------------------------------------------------------------
def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Sales grew in every region.")
    table = document.add_table(rows=2, cols=2)
    cells = {(0, 0): "Region", (0, 1): "Growth", (1, 0): "North", (1, 1): "12%"}
    for (row, col), text in cells.items():
        table.cell(row, col).text = text
    merged = document.add_table(rows=1, cols=2)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Merged cell"
    document.add_paragraph("")
    document.add_paragraph("Costs fell.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "report.docx", make_docx()))
    assert doc.title == "Quarterly Report"
    assert doc.text == (
        "Quarterly Report\n\nSales grew in every region.\n\nRegion\n\nGrowth\n\nNorth\n\n12%"
        "\n\nMerged cell\n\nCosts fell."
    )


def damaged_document_xml() -> bytes:
    """A real DOCX whose word/document.xml is cut in half."""
    with zipfile.ZipFile(io.BytesIO(make_docx())) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members["word/document.xml"] = members["word/document.xml"][:300]
    return zip_bytes(members.items())


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(2048),
        zip_bytes([("hello.txt", b"not a word file")]),
        make_docx()[:1500],
        zip_bytes([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<not xml")]),
        damaged_document_xml(),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
    ],
    ids=["random", "no-document-xml", "truncated", "bad-types", "bad-xml", "ole-encrypted"],
)
def test_corrupt_docx(tmp_path: Path, data: bytes) -> None:
    expect_error(CorruptFileError, write(tmp_path, "broken.docx", data))


def test_docx_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = zip_bytes([("word/document.xml", b"<w/>"), ("word/media/big.bin", bytes(1_000_000))])
    path = write(tmp_path, "bomb.docx", bomb)
    assert path.stat().st_size < 5_000
    error = expect_error(FileTooLargeError, path, config=LoaderConfig(max_bytes=10_000))
    assert "1,000,004 bytes" in str(error) and "--max-bytes" in str(error)


# -- bad inputs common to all formats ------------------------------------------------
@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.md"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    error = expect_error(EmptyDocumentError, write(tmp_path, name, b""))
    assert error.problem == "the file is empty"


def test_whitespace_only_file(tmp_path: Path) -> None:
    data = " \n\t\r\n\u00a0\u200b\n".encode()
    expect_error(EmptyDocumentError, write(tmp_path, "blank.txt", data))
    expect_error(EmptyDocumentError, write(tmp_path, "blank.html", b"<html><body> </body></html>"))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        b"ab\x01\x02\x03\x04\x05" * 200,
    ],
    ids=["nul-bytes", "control-chars"],
)
def test_binary_bytes_with_text_extension(tmp_path: Path, data: bytes) -> None:
    error = expect_error(BinaryFileError, write(tmp_path, "image.txt", data))
    assert "Save it as UTF-8 text" in str(error)


def test_unsupported_extension(tmp_path: Path) -> None:
    error = expect_error(UnsupportedFormatError, write(tmp_path, "data.xyz", b"text"))
    assert all(ext in str(error) for ext in SUPPORTED_EXTENSIONS)


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", b"word " * 100)
    error = expect_error(FileTooLargeError, path, config=LoaderConfig(max_bytes=100))
    assert "500 bytes" in str(error) and "limit of 100 bytes" in str(error)
    assert "LoaderConfig(max_bytes=...)" in str(error) and "--max-bytes" in str(error)


def test_text_over_max_chars() -> None:
    with pytest.raises(FileTooLargeError, match="max_chars") as info:
        document_from_text("word " * 100, source="long.txt", config=LoaderConfig(max_chars=50))
    assert "long.txt" in str(info.value)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    expect_error(UnreadableFileError, tmp_path / "missing.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert "folder" in str(expect_error(UnreadableFileError, folder))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", b"hidden text")
    path.chmod(0)
    expect_error(UnreadableFileError, path)


def test_permission_denied_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for the chmod test above where the suite runs as root.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(loaders, "open", refuse, raising=False)
    error = expect_error(UnreadableFileError, write(tmp_path, "secret.txt", b"hidden text"))
    assert "Permission denied" in str(error) and "permission to read" in str(error)


def test_load_bytes_uses_name_as_source() -> None:
    doc = load_bytes(make_pdf(PDF_LINES), "upload.PDF")
    assert (doc.text, doc.source) == (PDF_TEXT, "upload.PDF")
    with pytest.raises(UnsupportedFormatError, match="upload.exe"):
        load_bytes(b"MZ", "upload.exe")
    with pytest.raises(FileTooLargeError, match="upload.txt"):
        load_bytes(b"x" * 11, "upload.txt", config=LoaderConfig(max_bytes=10))


# -- folders -------------------------------------------------------------------------
def test_iter_supported_files(tmp_path: Path) -> None:
    for rel in ["b.md", "a.txt", "notes.xyz", ".hidden.txt", ".git/config.txt",
                "sub/c.PDF", "sub/deep/d.html", "sub/~$lock.docx", "z.docx"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "e.txt").write_bytes(b"x")
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_supported_files(tmp_path)]
    assert found == ["a.txt", "b.md", "sub/c.PDF", "sub/deep/d.html", "z.docx"]
    with pytest.raises(UnreadableFileError):
        list(iter_supported_files(tmp_path / "a.txt"))
