"""One generation as downloadable files: Markdown, plain text, DOCX and JSONL, each a pure
function ``GenerationRecord -> bytes``.

A record holds what reproduces the text (prompt, keywords, preset, model, decoding
settings with the seed) beside the text itself, and whether the writer was stopped early.
As in ``summarizer/results/files.py``: Markdown writes ``<``, ``>`` and ``&`` as entities
(a model's HTML shows as text), DOCX drops the control characters XML forbids, and the
plain-text file is the output alone, exactly as written.
"""
from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class GenerationRecord:
    prompt: str
    output: str
    model: str  # runtime.catalog.ModelInfo.label()
    preset: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # decoding, seed included
    keywords: Tuple[str, ...] = ()
    tokens: int = 0  # new tokens in ``output``
    seconds: float = 0.0
    stopped: bool = False  # the user stopped it before the model ended

    def summary_line(self) -> str:
        """"12 tokens in 0.8 s" or "stopped after 12 tokens (0.8 s)"."""
        if self.stopped:
            return f"stopped after {self.tokens} tokens ({self.seconds:.1f} s)"
        return f"{self.tokens} tokens in {self.seconds:.1f} s"

    def to_json(self) -> Dict[str, Any]:
        return {"prompt": self.prompt, "keywords": list(self.keywords), "preset": self.preset,
                "model": self.model, "settings": dict(self.settings), "output": self.output,
                "tokens": self.tokens, "seconds": round(self.seconds, 3),
                "stopped": self.stopped}


def to_text(record: GenerationRecord) -> bytes:
    return record.output.encode("utf-8")


def to_jsonl(record: GenerationRecord) -> bytes:
    """One line: prompt, settings and output, values as they are."""
    return (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode("utf-8")


def _settings_line(record: GenerationRecord) -> str:
    return ", ".join(f"{k} {v}" for k, v in record.settings.items())


def _md(text: str) -> str:
    return html.escape(text, quote=False)


def to_markdown(record: GenerationRecord, *, title: str = "Generated text") -> bytes:
    out: List[str] = [f"# {_md(title)}", "",
                      f"*{_md(record.model)} · preset {_md(record.preset)} · "
                      f"{record.summary_line()}*", "", "## Prompt", ""]
    # Two trailing spaces keep each line a line of its own in rendered Markdown.
    out += [_md(line) + "  " for line in record.prompt.splitlines()] + [""]
    if record.keywords:
        out += [f"Keywords: {_md(', '.join(record.keywords))}", ""]
    out += ["## Output", ""]
    out += [_md(line) + "  " for line in record.output.splitlines()] + [""]
    out += ["## Settings", "", _md(_settings_line(record)), ""]
    return "\n".join(out).encode("utf-8")


def _xml(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def to_docx(record: GenerationRecord, *, title: str = "Generated text") -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(_xml(title), level=0)
    line = f"{record.model} · preset {record.preset} · {record.summary_line()}"
    document.add_paragraph(_xml(line)).runs[0].italic = True
    document.add_heading("Prompt", level=1)
    document.add_paragraph(_xml(record.prompt))
    if record.keywords:
        document.add_paragraph(_xml("Keywords: " + ", ".join(record.keywords)))
    document.add_heading("Output", level=1)
    for paragraph in record.output.splitlines() or [""]:
        document.add_paragraph(_xml(paragraph))
    document.add_heading("Settings", level=1)
    document.add_paragraph(_xml(_settings_line(record)))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


# file suffix -> (writer, mime type)
WRITERS = {
    "md": (to_markdown, "text/markdown"),
    "txt": (to_text, "text/plain"),
    "docx": (to_docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "jsonl": (to_jsonl, "application/jsonl"),
}
