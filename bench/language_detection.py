"""Language detection accuracy and speed on short texts and paragraphs, per language.

    python bench/language_detection.py [--suite ../shared/data]

The samples (``bench/language_samples.py``) are ten news-like sentences per language,
written for this project. Scored: each sentence alone (10 per language), each pair of
consecutive sentences (10, wrapping around), each paragraph of five consecutive
sentences (10, wrapping around), and five headlines of three to seven words. Two detectors: ours (``detect_language``: script rules,
the plain-English shortcut, then py3langid restricted to our Latin languages) and
py3langid restricted to all nine supported languages, with no rules. ``--suite`` also
counts what ours answers on the quality suite's documents (all English or Chinese).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.language_samples import ENGLISH_WITH_NAMES, HEADLINES, SAMPLES  # noqa: E402
from summarizer.languages import SUPPORTED_LANGUAGES, detect_language  # noqa: E402

KINDS = (("headline", 0), ("sentence", 1), ("pair", 2), ("paragraph", 5))


def texts_of(lang, size):
    """Size 0: the headlines; else windows of ``size`` consecutive sentences."""
    return HEADLINES[lang] if size == 0 else windows(SAMPLES[lang], size)


def windows(sentences, size):
    n = len(sentences)
    joiner = "" if size and any("\u4e00" <= c <= "\u9fff" for c in sentences[0]) else " "
    return [joiner.join(sentences[(i + k) % n] for k in range(size)) for i in range(n)]


def plain_py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(list(SUPPORTED_LANGUAGES))
    return lambda text: ident.classify(text)[0]


def table(detectors):
    print("| language | " + " | ".join(f"{d} {k}" for d in detectors for k, _ in KINDS) + " |")
    print("|---|" + "---:|" * (len(detectors) * len(KINDS)))
    totals = Counter()
    wrong = []
    for lang in SUPPORTED_LANGUAGES:
        cells = []
        for dname, detect in detectors.items():
            for kind, size in KINDS:
                texts = texts_of(lang, size)
                hits = 0
                for t in texts:
                    got = detect(t)
                    hits += got == lang
                    if got != lang:
                        wrong.append((dname, kind, lang, got, t[:70]))
                totals[dname, kind] += hits
                cells.append(f"{hits}/{len(texts)}")
        print(f"| {lang} | " + " | ".join(cells) + " |")
    n = {k: sum(len(texts_of(lang, size)) for lang in SUPPORTED_LANGUAGES) for k, size in KINDS}
    print("| all | " + " | ".join(f"{100 * totals[d, k] / n[k]:.1f}%" for d in detectors
                                  for k, _ in KINDS) + " |")
    print("\nEnglish sentences with foreign names and places, read as English: " + ", ".join(
        f"{d} {sum(detect(t) == 'en' for t in ENGLISH_WITH_NAMES)}/{len(ENGLISH_WITH_NAMES)}"
        for d, detect in detectors.items()))
    for w in wrong:
        print("  wrong:", w)


def speed():
    t0 = time.perf_counter()
    detect_language(SAMPLES["de"][0])  # loads the model
    load = time.perf_counter() - t0
    per = {}
    for kind, size in KINDS:
        texts = [t for lang in SUPPORTED_LANGUAGES for t in texts_of(lang, size)]
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            for t in texts:
                detect_language(t)
            runs.append((time.perf_counter() - t0) / len(texts))
        per[kind] = statistics.median(runs)
    print(f"model load (first Latin-script call): {load:.2f} s; per call: "
          + ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in per.items()))


def suite(root: Path):
    from summarizer.documents.cleaning import clean_text
    from summarizer.evaluation.datasets import load_pairs, load_split
    from summarizer.languages import plainly_english
    from summarizer.evaluation.suite import SETS

    for s in SETS:
        path = root / s.path
        if not path.exists():
            continue
        pairs = load_split(path, "validation") if s.bbc_split else load_pairs(path)
        texts = [clean_text(p.article) for p in pairs[:1000]]
        got = Counter(detect_language(t) for t in texts)
        fast = sum(plainly_english(t[:5000]) for t in texts)
        print(f"{s.name}: {dict(got)}; answered by the plain-English shortcut: {fast}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", type=Path)
    args = ap.parse_args()
    speed()  # first: it times the model's load
    table({"ours": detect_language, "py3langid": plain_py3langid()})
    if args.suite:
        suite(args.suite)


if __name__ == "__main__":
    main()
