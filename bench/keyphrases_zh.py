"""Chinese keyphrases against the titles of their documents, contender by contender.

    python bench/keyphrases_zh.py --data ../shared/data/multidomain

Chinese has no keyphrase set offline, so a document's title (csl_title: paper abstracts
and their titles) or headline (lcsts_part2: microblog posts) stands in: for each
contender, over each validation file, the share of its top five keyphrases found verbatim
in the title ("in title"), the mean share of title characters they cover, the mean length
of a keyphrase, and the share of keyphrases holding a word that jieba's dictionary lacks
(a guess of its HMM, a fragment about half the time). First, the median time of one call
on 1,000 characters of abstracts, and what loading jieba (which the sentence splitter
needs for Chinese anyway) and the IDF table cost once per process. The numbers are
quoted in ``summarizer/keyphrases.py``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import platform
import re
import statistics
import time
from pathlib import Path

from summarizer import keyphrases as kp
from summarizer.nlp import _jieba, stopwords, tokenizer_for
from summarizer.types import Document

SETS = ("csl_title", "lcsts_part2")
_SPACE_IN_CJK = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")


def this_module(text: str) -> list:
    return [k.text for k in kp.keyphrases(Document(text, "zh"))]


def tfidf_words(text: str) -> list:
    """TF-IDF over jieba's words as they are: no inseparable neighbours joined."""
    config = kp.KeyphraseConfig(zh_term_repeats=10**9)
    return [k.text for k in kp.keyphrases(Document(text, "zh"), config)]


def tfidf_words_every_guess(text: str) -> list:
    """TF-IDF over jieba's words as they are, and every HMM guess a candidate."""
    config = kp.KeyphraseConfig(zh_term_repeats=10**9, zh_guess_repeats=1)
    return [k.text for k in kp.keyphrases(Document(text, "zh"), config)]


def textrank_same_words(text: str) -> list:
    """The module's TextRank (window 2) over the candidates of this module (no words
    joined, HMM guesses seen once left out)."""
    every = kp.KeyphraseConfig(zh_term_repeats=10**9, top_phrases=10**9)
    keep = {k.text.lower() for k in kp.keyphrases(Document(text, "zh"), every)}

    def words(part: str) -> list:
        return [(w.lower(), w) if w.lower() in keep else None for w in _jieba().lcut(part)]

    return _textrank(kp._streams(text, tokenizer_for("zh"), words))


def textrank_before(text: str) -> list:
    """What keyphrases() did for Chinese before: TextRank over the tokenizer's words
    (punctuation dropped, one-character words kept)."""
    tok, stop = tokenizer_for("zh"), stopwords("zh")

    def words(part: str) -> list:
        return [(w, w) if kp._candidate(w, stop) else None for w in tok.words(part)]

    return _textrank(kp._streams(text, tok, words))


def _textrank(streams: list) -> list:
    found = kp._textrank_phrases(streams, kp.KeyphraseConfig())
    return [_SPACE_IN_CJK.sub("", k.text) for k in found]  # TextRank joins words with spaces


CONTENDERS = {
    "this module": this_module,
    "TF-IDF, no words joined": tfidf_words,
    "TF-IDF, no words joined, every HMM guess": tfidf_words_every_guess,
    "TextRank over the same words": textrank_same_words,
    "TextRank over jieba words (before)": textrank_before,
}


def covered(title: str, phrases: list) -> float:
    mask = [False] * len(title)
    for p in phrases:
        for m in re.finditer(re.escape(p), title):
            mask[m.start():m.end()] = [True] * len(p)
    return sum(mask) / max(1, len(title))


def unknown(phrase: str) -> bool:
    """True when a word of ``phrase`` (as jieba segments it) is not in jieba's dictionary."""
    jieba = _jieba()
    return any(re.search(r"[\u3400-\u9fff]", w) and not jieba.get_FREQ(w)
               for w in jieba.lcut(phrase))


def read(path: Path) -> list:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the multidomain folder")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=21)
    args = ap.parse_args()
    rows = {name: read(Path(args.data) / name / "validation.jsonl.gz") for name in SETS}
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    # timings first, while jieba and the IDF table are not loaded yet
    text = "".join(r["article"] for r in rows["csl_title"])[:1000]
    start = time.perf_counter()
    _jieba()
    loaded = time.perf_counter()
    this_module(text)
    first = time.perf_counter()
    times = []
    for _ in range(args.repeats):
        start_call = time.perf_counter()
        this_module(text)
        times.append(time.perf_counter() - start_call)
    print(f"one call on 1,000 characters: median {statistics.median(times) * 1000:.1f} ms of "
          f"{args.repeats}; once per process before it: jieba {(loaded - start) * 1000:.0f} ms, "
          f"first call with the IDF table {(first - loaded) * 1000:.0f} ms")
    print(f"{'contender':40s} {'set':12s} {'in title':>8s} {'covered':>8s} {'chars':>6s} "
          f"{'unknown':>8s}")
    for label, fn in CONTENDERS.items():
        for name, docs in rows.items():
            hits = total = chars = odd = 0
            cover = 0.0
            for r in docs:
                top = fn(r["article"])[: args.top]
                total += len(top)
                hits += sum(p in r["summary"] for p in top)
                cover += covered(r["summary"], top)
                chars += sum(map(len, top))
                odd += sum(map(unknown, top))
            print(f"{label:40s} {name:12s} {hits / total:8.3f} {cover / len(docs):8.3f} "
                  f"{chars / total:6.1f} {odd / total:8.3f}")


if __name__ == "__main__":
    main()
