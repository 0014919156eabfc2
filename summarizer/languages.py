"""The languages we summarize, how a text's language is told, and each one's stop words
and stemmer. All offline: nothing here downloads data.

Detection (:func:`detect_language`) goes by script first, which is exact and free:
Chinese when a fifth of the letters are CJK ideographs (the rule we had when English and
Chinese were all we handled, kept as is), Russian when half are Cyrillic (our only
Cyrillic language). Latin-script text goes to py3langid (Lui and Baldwin 2012, langid.py,
a naive Bayes over byte n-grams; the model ships in the wheel) restricted to our Latin
languages. Its model takes about 0.4 s to load, so text that is plainly English
(a tenth of its words are English function words that no other language we support
writes) is answered without it; on the quality suite's English documents py3langid says
'en' for every one of them, so the shortcut changes no answer, only the start-up time.
Accuracy on short texts and paragraphs per language: docs/QUALITY.md, "Language
detection" (``bench/language_detection.py``).

Stop words: sumy's lists for English and Chinese (unchanged); the ``stop-words`` package's
for the others, because sumy has none for Dutch or Russian, its French list lacks "de",
"un" and "une", and its Portuguese one is garbled (``n\\xe3o``, "se, sua").

Stems: NLTK's Snowball English stemmer for English (what rankings were tuned with;
``snowballstemmer`` 3.x implements Snowball 3.0, whose English differs on "added",
"international", "university"...), reimplemented in :mod:`summarizer.english_stemmer` so
that English does not import NLTK (~1 s; same stems, tests/test_english_stemmer.py), none for Chinese, and the Snowball stemmers of
``snowballstemmer`` (pure Python, no NLTK import) for the others.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from typing import Callable, Dict, FrozenSet, Optional

from summarizer.english_stemmer import stem as _english_stem

SUPPORTED_LANGUAGES = ("en", "zh", "de", "fr", "es", "it", "pt", "nl", "ru")
LANG_CHOICES = ("auto",) + SUPPORTED_LANGUAGES  # what --lang accepts
LANGUAGE_NAMES: Dict[str, str] = {
    "en": "English", "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian",
}
_LATIN = ("en", "de", "fr", "es", "it", "pt", "nl")

# CJK Unified Ideographs (+ extension A, compatibility ideographs).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W_]+")
# English function words that none of de/fr/es/it/pt/nl writes as a word of its own
# ("is", "was", "of", "die" are Dutch or German, so they are not here).
_ENGLISH_MARKERS = frozenset(
    "the and to that with for are were this have has from by which would will been they "
    "their it's what when there".split()
)
# Bumped when the rules below read some text as another language, so a batch resumed
# across the change redoes its records (batch.engine.settings_key names it with --lang auto).
DETECTION_REVISION = 2  # 1: English or Chinese only
MIN_CONFIDENCE = 0.5  # below it, a Latin-script guess falls back to English
MIN_CONFIDENCE_SHORT = 0.95  # the same for a text of fewer than SHORT_WORDS words
SHORT_WORDS = 30
DETECT_CHARS = 5_000  # py3langid reads this much; accuracy has long saturated by then


def language_name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


def detect_language(text: str) -> str:
    """The ISO 639-1 code of ``text``'s language, one of SUPPORTED_LANGUAGES ('en' for
    text without letters)."""
    by_script = script_language(text)
    if by_script is not None:
        return by_script
    sample = text[:DETECT_CHARS]
    if plainly_english(sample):
        return "en"
    words = _WORD.findall(sample.lower())
    if len(words) < SHORT_WORDS and any(w in _ENGLISH_MARKERS for w in words):
        return "en"  # "Pedro Sánchez won the vote in the Congreso de los Diputados."
    lang, probability = _identifier().classify(sample)
    # A guess the model itself doubts ("Hello wörld. A wrapped line." is 30% German, 21%
    # English) stays English, the language the project read everything as before: stemming
    # an English note as German costs more than the reverse. A short text needs more
    # certainty: names alone ("Bayern München beat Borussia Dortmund.") sound foreign.
    floor = MIN_CONFIDENCE if len(words) >= SHORT_WORDS else MIN_CONFIDENCE_SHORT
    return lang if probability >= floor else "en"


def script_language(text: str) -> Optional[str]:
    """'zh' or 'ru' when the script says so, 'en' for text without letters, None for
    Latin-script text (whose language the script does not tell)."""
    sample = text[:20000]
    letters = len(_LETTER.findall(sample))
    if letters == 0:
        return "en"
    if len(_CJK.findall(sample)) / letters >= 0.2:
        return "zh"
    if len(_CYRILLIC.findall(sample)) / letters >= 0.5:
        return "ru"
    return None


def reference_language(summary: str, article: str) -> str:
    """The language of a reference summary: its script decides Chinese and Russian; a
    Latin-script one is in its article's language (a one-line reference is the shortest
    and least reliable text to detect), or English beside a Chinese or Russian article
    (what the two-language rule said, so the suite's references split as before)."""
    by_script = script_language(summary)
    if by_script is not None:
        return by_script
    lang = detect_language(article if article.strip() else summary)
    return lang if lang in _LATIN else "en"


def plainly_english(text: str) -> bool:
    """At least 30 words, a tenth of them English-only function words."""
    words = _WORD.findall(text.lower())
    return len(words) >= 30 and sum(w in _ENGLISH_MARKERS for w in words) >= 0.1 * len(words)


_identifier_lock = threading.Lock()
_identifiers: list = []  # the one py3langid identifier, once loaded


def _identifier():
    """py3langid restricted to our Latin-script languages, loaded once (~0.4 s) under a
    lock so that threads detecting at the same time do not each load it."""
    with _identifier_lock:
        if not _identifiers:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            ident.set_languages(list(_LATIN))
            _identifiers.append(ident)
    return _identifiers[0]


# -- stop words -------------------------------------------------------------------------
_SUMY_LISTS = {"en": "english", "zh": "chinese"}
_STOP_WORDS_LISTS = {"de": "german", "fr": "french", "es": "spanish", "it": "italian",
                     "pt": "portuguese", "nl": "dutch", "ru": "russian"}


@lru_cache(maxsize=None)
def stopwords(lang: str) -> FrozenSet[str]:
    """Lower-cased stop words of ``lang``."""
    if lang in _SUMY_LISTS:
        path = resources.files("sumy").joinpath(f"data/stopwords/{_SUMY_LISTS[lang]}.txt")
        text = path.read_text("utf-8")
        return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())
    path = resources.files("stop_words").joinpath(f"stop-words/{_STOP_WORDS_LISTS[lang]}.txt")
    # a few Italian entries end in a stray '"' (piu") in stop-words 2025.11.4
    words = (w.strip().strip('"').lower() for w in path.read_text("utf-8").splitlines())
    return frozenset(w for w in words if w)


# -- stemmers -------------------------------------------------------------------------
# English stem: NLTK's Snowball English, reimplemented without NLTK (cached there).
stem: Callable[[str], str] = _english_stem


_SNOWBALL = {"de": "german", "fr": "french", "es": "spanish", "it": "italian",
             "pt": "portuguese", "nl": "dutch", "ru": "russian"}
_local = threading.local()


def _snowball(lang: str):
    """One snowballstemmer object per thread and language: a stemmer keeps the word it is
    working on in its own attributes."""
    cache = _local.__dict__.setdefault("stemmers", {})
    if lang not in cache:
        import snowballstemmer

        cache[lang] = snowballstemmer.stemmer(_SNOWBALL[lang])
    return cache[lang]


@lru_cache(maxsize=400_000)
def snowball_stem(lang: str, word: str) -> str:
    """Snowball stem of a lower-cased ``word`` in one of de/fr/es/it/pt/nl/ru."""
    return _snowball(lang).stemWord(word)


def _identity(word: str) -> str:
    return word


@lru_cache(maxsize=None)
def stemmer(lang: str) -> Callable[[str], str]:
    """The function that stems a lower-cased word of ``lang`` (identity for Chinese)."""
    if lang == "en":
        return stem
    if lang == "zh":
        return _identity
    if lang not in _SNOWBALL:
        raise ValueError(f"unsupported language {lang!r}")

    def stem_word(word: str) -> str:
        return snowball_stem(lang, word)

    return stem_word
