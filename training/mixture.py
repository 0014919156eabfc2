"""The multi-domain training mix for the abstractive summarizer: pairs from every suite
set that has a train split, so that no kind of document is learned alone.

    train, validation, report = mixture_pairs(Path("../shared/data"), MixConfig())

Each set gives its first ``counts[set]`` train pairs (the files are seeded samples
already) and its first ``validation`` validation pairs (validation loss, the kept
checkpoint). Test splits are never read. What each set needs:

- **CNN/DailyMail** is lowercased and PTB-tokenized: it is detokenized and truecased
  (``truecase.py``, a table from the cased English train splits), and a pair whose
  highlights hold a word the table does not know is skipped, so no lowercase name is
  ever a target. Its validation pairs are restored the same way.
- **SumPubMed** is lowercased with ``<cit>``/``<dig>`` placeholders and its abstracts are
  what the model would learn to write: it stays out (``counts`` has no entry), as CSL,
  which has no train split.
- BBC takes its train split by the shared positional rule (``load_split``).

The counts favour the short sets (chats, dialogues, TL;DRs, microblogs): a step on them
costs a third of a news article's, and they are where the built-in summarizer was
weakest (docs/QUALITY.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from summarizer.evaluation.datasets import Pair
from summarizer.evaluation.suite import SETS, SuiteSet

from .errors import TrainingError
from .truecase import CaseTable, detokenize

# Pairs per set, 3,840 in all. The built-in summarizer's run saw 170 steps of 16 of them in
# their seeded shuffle (0.7 epoch, about 80 minutes on 2 CPU cores at batch 1; BENCHMARKS.md).
DEFAULT_COUNTS: Tuple[Tuple[str, int], ...] = (
    ("bbc", 220), ("cnndm", 380), ("samsum", 1300), ("dialogsum", 900), ("scitldr", 520),
    ("lcsts", 520))
UNCASED = ("cnndm",)  # restored by the case table
CASE_SOURCES = ("bbc", "samsum", "dialogsum", "scitldr")  # cased English train text
CASE_DOCS = 4000  # train articles per case source that the table is fitted on


@dataclass(frozen=True)
class MixConfig:
    counts: Tuple[Tuple[str, int], ...] = DEFAULT_COUNTS
    validation: int = 20  # validation pairs per set

    def __post_init__(self) -> None:
        known = {s.name for s in SETS}
        for name, n in self.counts:
            if name not in known:
                raise TrainingError(f"no suite set named {name!r} in the mix",
                                    f"Use some of: {', '.join(sorted(known))}")
            if n < 0:
                raise TrainingError(f"the mix asks for {n} pairs of {name}", "Give 0 or more")
        if self.validation < 0:
            raise TrainingError(f"validation = {self.validation}", "Give 0 or more")


def parse_counts(text: str) -> Tuple[Tuple[str, int], ...]:
    """``"samsum=1000,cnndm=300"`` -> counts (``--mix``)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, n = part.partition("=")
        if not n.strip().isdigit():
            raise TrainingError(f"--mix item {part!r} is not SET=COUNT",
                                "Write e.g. --mix samsum=1000,cnndm=300")
        out.append((name.strip(), int(n)))
    return tuple(out)


def _set(name: str) -> SuiteSet:
    return next(s for s in SETS if s.name == name)


def _pairs(root: Path, s: SuiteSet, split: str) -> List[Pair]:
    from .extractive import load_set_split  # numpy-only module; keeps this one light

    return load_set_split(root, s, split)


def case_table(train_pairs: Callable[[str], List[Pair]]) -> CaseTable:
    """The table fitted on the cased sets' train articles; ``train_pairs(set name)``."""
    texts = (p.article for name in CASE_SOURCES for p in islice(train_pairs(name), CASE_DOCS))
    return CaseTable.fit(texts)


def restore_pair(pair: Pair, table: CaseTable) -> Tuple[Pair, int]:
    """The pair detokenized and truecased; the count of highlight words the table lacks."""
    article, _ = table.restore(detokenize(pair.article))
    # Highlights are lines, some without a full stop: each becomes a sentence.
    lines = [x.strip() for x in detokenize(pair.summary).split("\n") if x.strip()]
    text = " ".join(x if x[-1] in ".!?\"'" else x + "." for x in lines)
    summary, unknown = table.restore(text)
    return replace(pair, article=article, summary=summary), unknown


def mixture_pairs(root: Path, config: MixConfig = MixConfig()
                  ) -> Tuple[List[Pair], List[Pair], Dict]:
    """Train and validation pairs of the mix (ids prefixed ``set/``) and a report."""
    root = Path(root)
    loaded: Dict[Tuple[str, str], List[Pair]] = {}  # each split read once: the table reads some

    def pairs(name: str, split: str) -> List[Pair]:
        if (name, split) not in loaded:
            loaded[(name, split)] = _pairs(root, _set(name), split)
        return loaded[(name, split)]

    uncased = any(n in UNCASED for n, c in config.counts if c)
    table = case_table(lambda name: pairs(name, "train")) if uncased else None
    train: List[Pair] = []
    validation: List[Pair] = []
    report: Dict = {"source": str(root), "sets": {}}
    for name, n in config.counts:
        row = {"asked": n}
        for split, want, out in (("train", n, train), ("validation", config.validation,
                                                       validation)):
            taken = skipped = 0
            for p in pairs(name, split):
                if taken >= want:
                    break
                if not p.article.strip() or not p.summary.strip():
                    continue
                if name in UNCASED:
                    p, unknown = restore_pair(p, table)
                    if unknown:
                        skipped += 1
                        continue
                out.append(replace(p, id=f"{name}/{p.id}"))
                taken += 1
            row[split] = taken
            if name in UNCASED:
                row[f"{split}_skipped_unknown_words"] = skipped
        if row["train"] < n:
            row["note"] = "fewer train pairs than asked"
        report["sets"][name] = row
    if not train:
        raise TrainingError(f"{root}: the mix found no training pairs",
                            "Point --data at the folder holding bbc_news_summary/ and multidomain/")
    report["case_table_words"] = len(table.forms) if table else 0
    return train, validation, report
