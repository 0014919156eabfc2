"""The quality suite: every corpus we have, its validation split, its natural budget.

A method is judged on the documents people bring (news, chat and spoken dialogues, paper
abstracts, Chinese microblogs and abstracts, long papers), never on one corpus alone.
Each set is scored at the length its references have:

- news highlights (CNN/DailyMail): 3 sentences, the convention since See et al. 2017;
- one-line references (dialogue summaries, TL;DRs, headlines, titles): 1 sentence
  (a dialogue's sentence is one speaker turn);
- BBC, whose references pick 43% of the article's sentences: ratio 0.4, as before;
- SumPubMed's abstracts (277 words on average in train): 275 words.

The table has one row per set and one column per method, plus the mean over sets, which
is what the default method is chosen by. Data live outside the repository (``--suite
DIR`` names the folder that holds ``bbc_news_summary/`` and ``multidomain/``); a set whose
file is missing is skipped and named in the report.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from summarizer.base import Summarizer
from summarizer.evaluation.datasets import Pair, load_pairs, load_split
from summarizer.errors import CondenseError, DocumentError
from summarizer.evaluation.evaluate import EvaluationReport, MethodResult, evaluate
from summarizer.documents.loaders import LoaderConfig
from summarizer.types import Budget


@dataclass(frozen=True)
class SuiteSet:
    name: str
    path: str  # relative to the suite's data folder
    budget: Budget
    what: str  # one line for the table
    bbc_split: bool = False  # pairs.jsonl holds every split; take validation by the shared rule


SETS: Tuple[SuiteSet, ...] = (
    SuiteSet("bbc", "bbc_news_summary/pairs.jsonl", Budget(ratio=0.4),
             "BBC news, extractive references", bbc_split=True),
    SuiteSet("cnndm", "multidomain/cnndm/validation.jsonl.gz", Budget(sentences=3),
             "CNN/DailyMail news -> highlights"),
    SuiteSet("samsum", "multidomain/samsum/validation.jsonl.gz", Budget(sentences=1),
             "chat dialogues -> one line"),
    SuiteSet("dialogsum", "multidomain/dialogsum/validation.jsonl.gz", Budget(sentences=1),
             "spoken dialogues -> one line"),
    SuiteSet("scitldr", "multidomain/scitldr_a/validation.jsonl.gz", Budget(sentences=1),
             "paper abstracts -> TL;DR"),
    SuiteSet("lcsts", "multidomain/lcsts_part2/validation.jsonl.gz", Budget(sentences=1),
             "Chinese microblog news -> headline"),
    SuiteSet("csl", "multidomain/csl_title/validation.jsonl.gz", Budget(sentences=1),
             "Chinese paper abstracts -> title"),
    SuiteSet("csl_clge", "multidomain/csl_title_clge/validation.jsonl.gz", Budget(sentences=1),
             "Chinese paper abstracts -> title (CLGE sample)"),
    SuiteSet("sumpubmed", "multidomain/sumpubmed/validation.jsonl.gz", Budget(words=275),
             "long biomedical papers -> abstract"),
)
SET_NAMES = tuple(s.name for s in SETS)


@dataclass(frozen=True)
class SuiteResult:
    set: SuiteSet
    report: EvaluationReport


@dataclass(frozen=True)
class SuiteReport:
    methods: Tuple[str, ...]
    results: Tuple[SuiteResult, ...]
    missing: Tuple[str, ...] = field(default_factory=tuple)  # sets whose file was absent

    def mean(self, method: str, rouge: str = "rouge1") -> float:
        vals = [_cell(r, method).scores[rouge].mean for r in self.results]
        return sum(vals) / len(vals) if vals else float("nan")

    def best(self, rouge: str = "rouge1") -> str:
        """The method with the highest mean over sets (the first on a tie)."""
        return max(self.methods, key=lambda m: (self.mean(m, rouge), -self.methods.index(m)))

    def to_json(self) -> str:
        return json.dumps({
            "methods": list(self.methods),
            "missing": list(self.missing),
            "sets": [{"set": r.set.name, "budget": r.set.budget.describe(),
                      "report": asdict(r.report)} for r in self.results],
            "mean": {m: {k: self.mean(m, k) for k in ("rouge1", "rouge2", "rougeLsum")}
                     for m in self.methods},
        }, indent=2)

    def markdown(self, *, title: str = "") -> str:
        """The suite table (R1 / R2 / RLsum per cell, best R1 in bold), the mean row, the
        words each method wrote per set, then every cell with its 95% interval and the
        summarizing time."""
        ms = self.methods
        lines = [title] if title else []
        lines += [
            "| set (budget, documents) | " + " | ".join(ms) + " |",
            "|---|" + "---:|" * len(ms),
        ]
        for r in self.results:
            top = max(_cell(r, m).scores["rouge1"].mean for m in ms)
            cells = []
            for m in ms:
                s = _cell(r, m).scores
                r1 = f"{s['rouge1'].mean:.2f}"
                r1 = f"**{r1}**" if s["rouge1"].mean == top else r1
                cells.append(f"{r1} / {s['rouge2'].mean:.2f} / {s['rougeLsum'].mean:.2f}")
            n = r.report.results[0].documents
            lines.append(f"| {r.set.name} ({r.set.budget.describe()}, {n}) | " + " | ".join(cells) + " |")
        lines.append("| **mean over sets** | " + " | ".join(
            f"{self.mean(m, 'rouge1'):.2f} / {self.mean(m, 'rouge2'):.2f} / {self.mean(m, 'rougeLsum'):.2f}"
            for m in ms) + " |")
        lines.append("| summarizing time, all sets (s, one core) | " + " | ".join(
            f"{sum(_cell(r, m).seconds for r in self.results):.1f}" for m in ms) + " |")
        lines += ["", "ROUGE-1 / ROUGE-2 / ROUGE-Lsum F1 x 100. Best by mean ROUGE-1: "
                  f"**{self.best()}**.", ""]
        lines += self._lengths()
        if self.missing:
            lines += [f"Sets not found, left out: {', '.join(self.missing)}.", ""]
        lines += ["<details><summary>95% bootstrap intervals</summary>", "",
                  "| set | method | ROUGE-1 | ROUGE-2 | ROUGE-Lsum | failed |", "|---|---|---|---|---|---:|"]
        for r in self.results:
            for m in ms:
                c = _cell(r, m)
                iv = [f"{c.scores[k].mean:.2f} [{c.scores[k].low:.2f}, {c.scores[k].high:.2f}]"
                      for k in ("rouge1", "rouge2", "rougeLsum")]
                lines.append(f"| {r.set.name} | {m} | " + " | ".join(iv) + f" | {c.failures} |")
        lines += ["", "</details>"]
        return "\n".join(lines)

    def _lengths(self) -> List[str]:
        """What each method wrote, per set: mean words and, once some summary was flagged
        or a method is abstractive, flagged and cut summaries per 100 documents. ROUGE
        rewards length, so methods compare only at the lengths they actually wrote."""
        ms = self.methods
        cells = [_cell(r, m) for r in self.results for m in ms]
        checks = any(c.truncated_per_100 is not None or c.flagged_per_100 > 0 for c in cells)
        lines = ["| set | " + " | ".join(ms) + " |", "|---|" + "---:|" * len(ms)]
        for r in self.results:
            row = []
            for m in ms:
                c = _cell(r, m)
                text = f"{c.words:.0f} w"
                if checks:
                    text += f" · {_count(c.flagged_per_100)} flagged"
                if checks and c.truncated_per_100 is not None:
                    if c.mid_sentence_per_100 is not None:
                        text += f" · {_count(c.mid_sentence_per_100)} cut"
                    text += f" · {_count(c.truncated_per_100)} open"
                row.append(text)
            lines.append(f"| {r.set.name} | " + " | ".join(row) + " |")
        what = "w: mean words per summary (documents a method failed on left out)"
        if checks:
            what += ("; per 100 documents, summaries with a number or name the article lacks "
                     "(flagged), generated summaries that decoding stopped inside a sentence "
                     "(cut) and generated summaries that end without a full stop, question or "
                     "exclamation mark for any reason, a headline the model ended there "
                     "included (open)")
        return lines + ["", what + ".", ""]


def _cell(result: SuiteResult, method: str) -> MethodResult:
    return next(x for x in result.report.results if x.method == method)


def _count(per_100: float) -> str:
    """A rate per 100 documents, to one decimal, without a trailing ".0"."""
    return f"{per_100:.1f}".removesuffix(".0")


def load_set(root: Path, s: SuiteSet) -> List[Pair]:
    """The set's pairs to score: like ``evaluate --data``, a pair without article or
    summary text stops the suite with an error naming its line, and so does a set file
    that holds no pairs (its column would be a table of nothing)."""
    path = root / s.path
    if s.bbc_split:
        return load_split(path, "validation")
    pairs = load_pairs(path, require_text=True)
    if not pairs:
        raise DocumentError(str(path), f"the {s.name!r} set holds no pairs",
                            'Write one {"id", "article", "summary"} record per line, or '
                            "remove the file to leave the set out")
    return pairs


def run_suite(
    root: str | Path,
    methods: Sequence[str],
    *,
    sets: Optional[Sequence[str]] = None,
    limit: Optional[int] = None,
    skip: int = 0,
    workers: Optional[int] = None,
    seed: int = 0,
    abstractive=None,
    loader: Optional[LoaderConfig] = None,
    on_set: Optional[Callable[[SuiteSet, EvaluationReport], None]] = None,
    summarizers: Optional[Mapping[str, Summarizer]] = None,
) -> SuiteReport:
    """Score ``methods`` on every set found under ``root`` (or the named ``sets``).

    ``abstractive`` (an AbstractiveConfig) is needed when "abstractive" is among the
    methods. ``limit`` keeps the first N pairs of each set (for quick looks; the recorded table
    uses every pair), after ``skip`` leaves out the first ones. ``on_set`` is called after
    each set, for progress. ``summarizers``:
    as for ``evaluate``."""
    root = Path(root)
    chosen = [s for s in SETS if sets is None or s.name in sets]
    unknown = sorted(set(sets or ()) - set(SET_NAMES))
    if unknown:
        raise CondenseError(f"unknown suite set(s) {', '.join(unknown)}; "
                            f"choose from {', '.join(SET_NAMES)}")
    results, missing = [], []
    for s in chosen:
        if not (root / s.path).is_file():
            missing.append(s.name)
            continue
        pairs = load_set(root, s)[skip:]
        pairs = pairs[:limit] if limit else pairs
        report = evaluate(pairs, methods, s.budget, split=f"{s.name}/validation",
                          workers=workers, seed=seed, abstractive=abstractive,
                          loader=loader or LoaderConfig(), summarizers=summarizers)
        results.append(SuiteResult(s, report))
        if on_set is not None:
            on_set(s, report)
    if not results:
        raise DocumentError(str(root), "holds none of the suite's data sets",
                            "Pass the folder that contains bbc_news_summary/ and multidomain/")
    return SuiteReport(tuple(methods), tuple(results), tuple(missing))


BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"


def write_block(path: str | Path, block: str) -> None:
    """Replace the text between the suite markers in ``path`` (append them if absent), so
    that what is written around the generated table survives a rerun."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = f"{BEGIN}\n{block}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    text = pattern.sub(lambda _: new, text) if pattern.search(text) else text.rstrip() + "\n\n" + new + "\n"
    path.write_text(text.lstrip(), encoding="utf-8")
