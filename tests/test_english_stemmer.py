"""summarizer.english_stemmer gives exactly NLTK's SnowballStemmer("english") stems (what
rankings were tuned with), without importing NLTK."""
import glob
import gzip
import os
import random
import re
import subprocess
import sys

import pytest

from summarizer.english_stemmer import stem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

# Expected stems written by hand (NLTK-independent): the exceptions, y/Y, apostrophes,
# short words, the gener/commun/arsen R1 rule, non-ASCII letters.
HAND = {
    "generous": "generous", "generously": "generous", "generate": "generat",
    "communication": "communic", "arsenal": "arsenal",
    "skies": "sky", "skis": "ski", "dying": "die", "lying": "lie", "news": "news",
    "succeed": "succeed", "succeeded": "succeed", "proceed": "proceed",
    "proceeds": "proceed", "exceeding": "exceed", "innings": "inning",
    "say": "say", "says": "say", "saying": "say", "cry": "cri", "crying": "cri",
    "boys": "boy", "youth": "youth", "yellow": "yellow", "YELLOW": "yellow", "enjoyed": "enjoy",
    "dog's": "dog", "dogs'": "dog", "dog\u2019s": "dog", "'s": "'s",
    "a": "a", "ab": "ab", "AB": "ab", "us": "us", "bus": "bus", "gas": "gas", "gaps": "gap",
    "ties": "tie", "cries": "cri", "caresses": "caress", "agreed": "agre", "feed": "feed",
    "hopping": "hop", "hoping": "hope", "controlled": "control", "fizzed": "fizz",
    "university": "univers", "international": "intern", "added": "ad", "adding": "ad",
    "ionization": "ionize", "emergence": "emerg", "biologist": "biologist",
    "na\u00efve": "na\u00efv", "caf\u00e9": "caf\u00e9", "\u00fcber": "\u00fcber",
}


def test_hand_cases():
    assert {w: stem(w) for w in HAND} == HAND


def test_does_not_import_nltk():
    code = ("import sys; from summarizer.languages import stemmer; stemmer('en')('running');"
            "print('nltk' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"


def _vocabulary(paths):
    words = set()
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                words.update(w.lower() for w in _WORD.findall(line))
    return words


def _nltk():
    snowball = pytest.importorskip("nltk.stem.snowball")
    return snowball.SnowballStemmer("english")


def _assert_same(words):
    nltk_stem = _nltk().stem
    bad = [(w, stem(w), nltk_stem(w)) for w in sorted(words) if stem(w) != nltk_stem(w)]
    assert bad == [], f"{len(bad)} of {len(words)} differ: {bad[:20]}"


def test_same_as_nltk_on_docs_and_hand_cases():
    words = _vocabulary([os.path.join(ROOT, "README.md")]
                        + glob.glob(os.path.join(ROOT, "docs", "*.md")))
    words |= set(HAND)
    assert len(words) > 1000
    _assert_same(words)


def test_same_as_nltk_on_shared_data():
    paths = glob.glob(os.path.join(SHARED_DATA, "**", "*validation*.jsonl*"), recursive=True)
    paths += glob.glob(os.path.join(SHARED_DATA, "bbc_news_summary", "pairs.jsonl"))
    if not paths:
        pytest.skip("no shared/data validation files here")
    _assert_same(_vocabulary(paths))


def test_same_as_nltk_on_random_strings():
    """Letters that exercise the y/Y, double-consonant, apostrophe and non-ASCII paths."""
    rng = random.Random(19)
    alphabet = "aeiouyYbcdlsgntzrxw'\u2019\u00e9"
    words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
             for _ in range(30_000)}
    _assert_same(words)
