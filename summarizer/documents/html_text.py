"""Main text of an HTML page, as paragraphs.

A page holds an article plus navigation, banners, sidebars, cookie notices and share
buttons; summarizing those buries the article. :func:`extract_html` keeps the main text:

1. drop elements that never hold the article (scripts, styles, ``nav``, ``aside``,
   ``footer``, the page ``header``, ARIA navigation/banner/contentinfo/complementary);
2. take the largest ``<article>`` or ``<main>`` as root, else ``<body>``;
3. inside the root, drop forms and elements whose id or class names a navigation-like
   part (``nav``, ``menu``, ``sidebar``, ``cookie``, ...), matched word by word;
4. emit every block (``p``, ``h1``-``h6``, ``li``, ``td``, ``pre``, text loose in a
   ``div``) as its own paragraph.

Deviations from a plain "drop every header": a ``<header>`` inside an ``<article>`` or
``<main>`` is the article's own header (HTML spec) and usually holds its ``<h1>``, so it
stays. Class matching is guarded: an element holding more than half of the root's text
(``<div class="has-sidebar">`` wrapping the whole page, or an ASP.NET ``<form>`` around
everything) is content, not chrome. If nothing is left, the plain text of the page is
used instead: noisy text beats no text.

Nothing is fetched: lxml's HTML parser loads no DTD and resolves no external entity.

Rendered Markdown goes through the same block walk without the chrome removal
(:func:`markdown_to_text`); :func:`declared_charset` reads an HTML file's ``<meta>``
charset for the loader.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Tuple

from bs4 import BeautifulSoup, CData, NavigableString, Tag
from markdown_it import MarkdownIt

from summarizer.documents.cleaning import clean_text
from summarizer.types import ExtractedText

# Elements that hold no readable text in any document.
_NEVER_TEXT = frozenset({"script", "style", "noscript", "template", "iframe", "svg",
                         "object", "embed", "canvas", "head"})
# Page chrome, by tag. <header> is decided by its ancestors and <form> by its size (see
# the module docstring).
_CHROME = frozenset({"nav", "footer", "aside", "button", "select", "textarea"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary"})
# id/class words that name chrome; compared to whole words, so "navigating" is kept.
_CHROME_WORDS = frozenset({
    "nav", "navbar", "navigation", "topnav", "subnav", "sitenav",
    "menu", "menubar", "submenu", "mainmenu", "megamenu",
    "breadcrumb", "breadcrumbs", "sidebar", "footer",
    "cookie", "cookies", "consent", "share", "sharing", "sharebar", "social",
})
_PROTECTED = frozenset({"html", "body", "article", "main"})
_BLOCKS = frozenset({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th",
    "div", "section", "article", "main", "header", "footer", "nav", "aside", "ul", "ol",
    "dl", "dt", "dd", "table", "tr", "caption", "figure", "figcaption", "address", "hr",
    "details", "summary", "fieldset", "legend", "body", "html", "form", "center", "hgroup",
})
# Words of an id/class: split on - _ and spaces, and camelCase ("mainNav" -> main, nav).
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# HTML collapses runs of ASCII whitespace only; a no-break space is content.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def html_to_text(html: str) -> str:
    """The main text of an HTML page (see the module docstring)."""
    return extract_html(html).text


def extract_html(html: str, *, main_only: bool = True, drop_code: bool = False) -> ExtractedText:
    """Paragraphs and title of ``html``.

    ``main_only=False`` keeps every block (used for rendered Markdown, which has no page
    chrome to drop); ``drop_code=True`` drops ``<pre>`` blocks, which summarize badly.
    The title is the first ``<h1>``, else ``<title>``; ``<title>`` also opens the text
    when the root has no ``<h1>``, as it is then the only heading the reader gets.
    """
    soup = BeautifulSoup(html, "lxml")
    # The page title lives in <head>; an <svg> in the body may hold a <title> of its own.
    title_tag = soup.head.find("title") if soup.head else None
    page_title = _text_of(title_tag) if title_tag else ""
    never = _NEVER_TEXT | ({"pre"} if drop_code else set())
    _prune(soup, lambda tag, in_article: tag.name in never or (
        main_only and _is_chrome(tag, in_article)))
    root: Tag = soup.body or soup
    if main_only:
        size = _text_sizes(soup)
        root = max(soup.find_all(["article", "main"]), key=lambda t: size[id(t)], default=root)
        half = size[id(root)] / 2
        _prune(root, lambda tag, _: _is_named_chrome(tag) and size[id(tag)] <= half)
    blocks = _blocks(root)
    if main_only and not blocks:  # everything looked like chrome
        return extract_html(html, main_only=False, drop_code=drop_code)
    h1 = root.find("h1")
    heading = _text_of(h1) if h1 else ""
    if not heading and page_title and main_only:
        blocks.insert(0, page_title)
    title = heading or page_title or None
    return ExtractedText(clean_text("\n\n".join(blocks)), title)


def _prune(root: Tag, drop: Callable[[Tag, bool], bool]) -> None:
    """Remove each tag under ``root`` for which ``drop(tag, inside_article_or_main)``.

    One walk that skips removed subtrees. (bs4's ``Tag.decomposed`` is no help here: on
    a live tag it falls back to ``find("_decomposed")``, a search of the whole subtree.)
    """
    stack = [(child, False) for child in root.contents if isinstance(child, Tag)]
    while stack:
        tag, in_article = stack.pop()
        if drop(tag, in_article):
            tag.decompose()
            continue
        in_article = in_article or tag.name in ("article", "main")
        stack.extend((c, in_article) for c in tag.contents if isinstance(c, Tag))


def _is_chrome(tag: Tag, in_article: bool) -> bool:
    if tag.name in ("html", "body"):
        return False
    if tag.name == "header":
        return not in_article  # the page banner, not the article's own header
    roles = str(tag.get("role") or "").lower().split()  # ARIA allows a fallback list
    return tag.name in _CHROME or any(r in _CHROME_ROLES for r in roles)


def _is_named_chrome(tag: Tag) -> bool:
    """A form, or a tag whose id/class words name chrome ("mainNav" -> main, nav)."""
    if tag.name in _PROTECTED:
        return False
    if tag.name == "form":
        return True
    classes = tag.get("class") or []  # bs4 gives class as a list of tokens
    names = [str(tag.get("id") or ""), *(classes if isinstance(classes, list) else [classes])]
    return any(w.lower() in _CHROME_WORDS for n in names for w in _NAME_WORDS.findall(n))


def _text_sizes(root: Tag) -> Dict[int, int]:
    """``len(tag.get_text())`` of every tag, keyed by ``id``, in one post-order walk.

    Calling get_text() per candidate is quadratic on deeply nested pages (20,000 nested
    ``<div class="menu">`` took 34 s).
    """
    sizes: Dict[int, int] = {}
    stack: List[Tuple[Tag, bool]] = [(root, False)]
    while stack:
        tag, children_done = stack.pop()
        if children_done:
            sizes[id(tag)] = sum(
                sizes[id(c)] if isinstance(c, Tag) else len(c) if _is_text(c) else 0
                for c in tag.contents)
            continue
        stack.append((tag, True))
        stack.extend((c, False) for c in tag.contents if isinstance(c, Tag))
    return sizes


def _is_text(node: object) -> bool:
    # Comments, doctypes and <script> strings are NavigableString subclasses.
    return type(node) in (NavigableString, CData)


def _text_of(tag: Tag) -> str:
    # No separator between strings, as in the body text: "<b>Con</b>dense" is one word.
    return " ".join(tag.get_text().split())


def _blocks(root: Tag) -> List[str]:
    """Text of each block under ``root``, in document order.

    An explicit stack instead of recursion: pages nest thousands of divs deep.
    """
    blocks: List[str] = []
    buf: List[str] = []  # inline text of the block being read
    pre_depth = 0

    def flush() -> None:
        lines = (line.strip() for line in "".join(buf).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            blocks.append(text)
        buf.clear()

    stack: List[tuple] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            pre_depth -= node.name == "pre"
            flush()
            continue
        if isinstance(node, NavigableString):
            if _is_text(node):
                buf.append(str(node) if pre_depth else _HTML_SPACE.sub(" ", str(node)))
            continue
        if not isinstance(node, Tag):
            continue
        if node.name == "br":
            buf.append("\n")
            continue
        if node.name in _BLOCKS:
            flush()
            pre_depth += node.name == "pre"
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return blocks


# -- Markdown and charset sniffing ----------------------------------------------------
_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)"""
    rb"""|^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.IGNORECASE)
# YAML front matter: "---", a "key:" line, ..., "---" (a bare "---" is a rule, kept).
_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\n[A-Za-z_][\w-]*[ \t]*:.{0,20000}?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)",
    re.DOTALL)


def markdown_to_text(markdown: str) -> ExtractedText:
    """Render CommonMark (+ tables) and keep every block: a Markdown file is all content.

    YAML front matter and fenced/indented code blocks are dropped; raw HTML is rendered
    so that its text survives, and its scripts and styles are dropped with the code.
    """
    markdown = _FRONT_MATTER.sub("", markdown.lstrip("\ufeff"), count=1)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return extract_html(html, main_only=False, drop_code=True)


def declared_charset(html: bytes) -> Optional[str]:
    """The charset an HTML file declares in its first 4 KB, mapped as browsers do."""
    match = _CHARSET.search(html[:4096])
    if not match:
        return None
    name = (match.group(1) or match.group(2)).decode("ascii").lower()
    # WHATWG: Latin-1 and ASCII labels mean Windows-1252, and a UTF-16 label on bytes
    # that were readable as ASCII is a lie.
    if name in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        return "cp1252"
    return None if name.startswith("utf-16") else name
