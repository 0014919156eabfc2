"""Sentence splitters side by side: boundary precision / recall / F1 on a gold set, and speed.

    python bench/sentence_split.py                       # gold set + 200 BBC articles
    python bench/sentence_split.py --errors condense     # also list one splitter's misses

Gold set: ``bench/data/sentences_gold.jsonl`` (written for this benchmark: English
abbreviations, initials, decimals, quotes, lists, URLs, ellipses, headlines, times and
versions; Chinese; German; Russian). Each line holds ``text`` and its ``sentences``, which
concatenate to the text with the original whitespace between them.

A boundary is the character offset where a sentence ends (trailing whitespace left out).
The end of the text is not counted: every splitter finds it. Predicted and gold boundaries
are compared as sets per case; precision, recall and F1 are micro-averaged over the cases
of a language; "en+de+ru" over the three languages every splitter is run on, "overall"
over every case a splitter was run on (Chinese included only where it is run).

Candidates (each skipped with a note when its package is missing):
  condense   ``summarizer.nlp.Tokenizer(lang).sentences`` (sentencex per line, plus repairs)
  pysbd      ``pysbd.Segmenter(language=lang, clean=False).segment`` on the whole text
  nupunkt    ``nupunkt.sent_spans`` (English model, no language option)
  blingfire  ``blingfire.text_to_sentences_and_offsets`` (no language option)
  sentencex  ``sentencex.get_sentence_boundaries(lang, text)``
  condense[X]  the Tokenizer with sentencex swapped for X (condense[pysbd]: the Tokenizer
             before it switched to sentencex)
Chinese is run only with the splitters that claim it (condense, pysbd, sentencex);
nupunkt and blingfire have no language option and are run on en, de and ru as they are.

Speed: the first ``--articles`` BBC *train* articles (``--data``; the gold texts repeated
when the file is missing), each splitter timed from the raw article to sentence offsets,
median of ``--repeats`` runs after one warm-up run; sentences counted.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Spans = List[Tuple[int, int]]
LANGS = ("en", "zh", "de", "ru")


def _spans_from_pieces(text: str, pieces) -> Spans:
    """Offsets of the pieces a splitter returned as strings, found left to right."""
    spans, cursor = [], 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        at = text.find(piece, cursor)
        if at < 0:  # the splitter altered the text: give up on this piece
            continue
        spans.append((at, at + len(piece)))
        cursor = at + len(piece)
    return spans


def _condense(lang: str) -> Callable[[str], Spans]:
    from summarizer.nlp import Tokenizer

    tok = Tokenizer(lang)
    return lambda text: [(s.start, s.end) for s in tok.sentences(text)]


def _pysbd(lang: str) -> Callable[[str], Spans]:
    import pysbd

    seg = pysbd.Segmenter(language=lang, clean=False)
    return lambda text: _spans_from_pieces(text, seg.segment(text))


def _nupunkt(lang: str) -> Callable[[str], Spans]:
    import nupunkt

    return lambda text: [tuple(s) for s in nupunkt.sent_spans(text)]


def _blingfire(lang: str) -> Callable[[str], Spans]:
    import blingfire

    return lambda text: list(blingfire.text_to_sentences_and_offsets(text)[1]) if text.strip() else []


def _sentencex(lang: str) -> Callable[[str], Spans]:
    import sentencex

    return lambda text: [(d["start_index"], d["end_index"])
                         for d in sentencex.get_sentence_boundaries(lang, text)]


class _Pieces:
    """Stands in for the Tokenizer's segmenter: ``segment(block)`` gives the pieces of another
    splitter, so that the Tokenizer's own steps (lines, closing quotes, repairs) run
    around it unchanged."""

    def __init__(self, spans_fn: Callable[[str], Spans]):
        self.spans_fn = spans_fn

    def segment(self, block: str) -> List[str]:
        return [block[a:b] for a, b in self.spans_fn(block)]


def _in_condense(inner: Callable[[str], Callable[[str], Spans]]):
    """``Tokenizer(lang).sentences`` with sentencex swapped for another splitter (the module's
    segmenter lookup is replaced during each call only)."""

    def factory(lang: str) -> Callable[[str], Spans]:
        import summarizer.nlp as nlp

        tok, seg = nlp.Tokenizer(lang), _Pieces(inner(lang))

        def run(text: str) -> Spans:
            original = nlp._segmenter
            nlp._segmenter = lambda _lang: seg
            try:
                return [(s.start, s.end) for s in tok.sentences(text)]
            finally:
                nlp._segmenter = original

        return run

    return factory


# name -> (package whose version is reported, languages run, factory)
CANDIDATES = {
    "condense": ("sentencex", LANGS, _condense),
    "pysbd": ("pysbd", LANGS, _pysbd),
    "nupunkt": ("nupunkt", ("en", "de", "ru"), _nupunkt),
    "blingfire": ("blingfire", ("en", "de", "ru"), _blingfire),
    "sentencex": ("sentencex", LANGS, _sentencex),
    "condense[nupunkt]": ("nupunkt", ("en", "de", "ru"), _in_condense(_nupunkt)),
    "condense[blingfire]": ("blingfire", ("en", "de", "ru"), _in_condense(_blingfire)),
    "condense[pysbd]": ("pysbd", LANGS, _in_condense(_pysbd)),
}


def version(package: str) -> Optional[str]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(package)
    except PackageNotFoundError:
        return None


def boundaries(text: str, spans: Spans) -> set:
    """Sentence ends, trailing whitespace left out, the end of the text excluded."""
    last = len(text.rstrip())
    ends = set()
    for a, b in spans:
        b = min(b, len(text))
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b < last:
            ends.add(b)
    return ends


def gold_boundaries(case: dict) -> set:
    text, ends, pos = case["text"], [], 0
    for s in case["sentences"]:
        at = text.index(s, pos)
        pos = at + len(s)
        ends.append((at, pos))
    return boundaries(text, ends)


def prf(tp: int, fp: int, fn: int) -> Tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(split_fns: Dict[str, Callable], cases: List[dict], errors: bool = False):
    counts: Dict[str, List[int]] = {}
    wrong = []
    for case in cases:
        fn = split_fns.get(case["lang"])
        if fn is None:
            continue
        gold = gold_boundaries(case)
        pred = boundaries(case["text"], fn(case["text"]))
        c = counts.setdefault(case["lang"], [0, 0, 0, 0])
        c[0] += len(gold & pred)
        c[1] += len(pred - gold)
        c[2] += len(gold - pred)
        c[3] += 1
        if errors and gold != pred:
            t = case["text"]
            wrong.append((case["id"], [t[max(0, b - 25):b] + "¦" + t[b:b + 15] for b in sorted(pred - gold)],
                          [t[max(0, b - 25):b] + "¦" + t[b:b + 15] for b in sorted(gold - pred)]))
    total = [sum(c[i] for c in counts.values()) for i in range(4)]
    out = {lang: dict(zip(("tp", "fp", "fn", "cases"), c), **dict(zip("prf", prf(*c[:3]))))
           for lang, c in counts.items()}
    latin = [sum(c[i] for lang, c in counts.items() if lang != "zh") for i in range(4)]
    out["en+de+ru"] = dict(zip(("tp", "fp", "fn", "cases"), latin), **dict(zip("prf", prf(*latin[:3]))))
    out["overall"] = dict(zip(("tp", "fp", "fn", "cases"), total), **dict(zip("prf", prf(*total[:3]))))
    return out, wrong


def speed_corpus(data: Optional[str], n: int, cases: List[dict]) -> Tuple[str, List[str]]:
    if data and Path(data).exists():
        from summarizer.evaluation.datasets import load_split

        arts = [p.article for p in load_split(data, "train")][:n]
        return f"{len(arts)} BBC train articles", arts
    en = [c["text"] for c in cases if c["lang"] == "en"]
    texts = (en * (n // len(en) + 1))[:n]
    return f"{n} English gold texts (repeated; {data} not found)", texts


def time_it(fn: Callable[[str], Spans], texts: List[str], repeats: int) -> Tuple[float, int]:
    count = sum(1 for t in texts for a, b in fn(t) if t[a:b].strip())  # warm-up and count
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in texts:
            fn(t)
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(ROOT / "bench/data/sentences_gold.jsonl"))
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/bbc_news_summary/pairs.jsonl"))
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated candidate names")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--errors", default="", help="list the wrong boundaries of these candidates")
    ap.add_argument("--json", default=str(ROOT / "bench/results/sentence_split.json"))
    args = ap.parse_args()

    cases = [json.loads(line) for line in open(args.gold, encoding="utf-8") if line.strip()]
    names = [n for n in CANDIDATES if not args.only or n in args.only.split(",")]
    show_errors = set(args.errors.split(",")) - {""}
    results, skipped = {}, {}
    for name in names:
        package, langs, factory = CANDIDATES[name]
        try:
            fns = {lang: factory(lang) for lang in langs}
        except Exception as exc:  # not installed, or no rules for a language
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        scores, wrong = score(fns, cases, errors=name in show_errors)
        results[name] = {"version": version(package), "languages": list(langs), "scores": scores}
        for cid, fps, fns_ in wrong:
            print(f"  {name} {cid}: extra {fps} missed {fns_}")

    n_gold = {lang: sum(c["lang"] == lang for c in cases) for lang in LANGS}
    b_gold = {lang: sum(len(gold_boundaries(c)) for c in cases if c["lang"] == lang) for lang in LANGS}
    print(f"\nGold set: {len(cases)} cases "
          + ", ".join(f"{lang} {n_gold[lang]} ({b_gold[lang]} boundaries)" for lang in LANGS))
    columns = LANGS + ("en+de+ru", "overall")
    print("\n| splitter | " + " | ".join(f"{c} P / R / F1" for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, res in results.items():
        s = res["scores"]
        cells = [f"{s[c]['p']:.3f} / {s[c]['r']:.3f} / {s[c]['f']:.3f}" if c in s else "not run"
                 for c in columns]
        print(f"| {name} {res['version']} | " + " | ".join(cells) + " |")

    speed = {}
    if not args.no_speed:
        label, texts = speed_corpus(args.data, args.articles, cases)
        words = sum(len(t.split()) for t in texts)
        print(f"\nSpeed: {label}, {words:,} words, median of {args.repeats} runs\n")
        print("| splitter | time (s) | sentences | time / condense's |")
        print("|---|---:|---:|---:|")
        for name in results:
            fn = CANDIDATES[name][2]("en")
            seconds, count = time_it(fn, texts, args.repeats)
            speed[name] = {"seconds": seconds, "sentences": count}
        base = speed.get("condense", {}).get("seconds")
        for name, sp in speed.items():
            r = sp["seconds"] / base if base else 0
            ratio = (f"{r:.2f}x" if r < 10 else f"{r:.0f}x") if base else ""
            print(f"| {name} | {sp['seconds']:.4f} | {sp['sentences']:,} | {ratio} |")
        speed = {"corpus": label, "words": words, "repeats": args.repeats, "results": speed}

    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "python": platform.python_version(), "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "gold": {"cases": n_gold, "boundaries": b_gold}, "quality": results,
        "skipped": skipped, "speed": speed}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
