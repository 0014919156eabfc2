"""Names and numbers only from the source, for the abstractive summarizers: the decoding
constraint of ``runtime/constraints.py`` over each WHOLE document (never a part of it, nor
its parts' summaries: a name from part 3 may be written in part 1's summary, and the final
pass reads only summaries), and the note that says what it changed.

The span index's common words are the document language's stop words (capitalised at a
sentence start they are no names); German capitalises every noun, so there only numbers
and amounts are kept to the document (``names=False``). English's list holds every single
letter, which made "X" a common word: the multi-domain summarizer wrote "X strata" for
Xstrata, the name ended after its first letter (docs/QUALITY.md); there only "a" and "i"
stay. Each tokenizer's token texts are
computed once (0.3-1 s for SmolLM2's 49k tokens; the index of a BBC article, 3 ms;
docs/BENCHMARKS.md).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Optional, Sequence

from runtime.constraints import ConstraintConfig, SpanConstraint
from runtime.span_index import SpanIndex
from runtime.text import TextCodec
from runtime.token_texts import TokenTexts

from summarizer.nlp import stopwords


@lru_cache(maxsize=8)
def token_texts(codec: TextCodec) -> TokenTexts:
    """What each token of ``codec``'s tokenizer adds to the text; once per codec (codecs
    are loaded once per model folder, ``seq2seq.load_model``)."""
    return TokenTexts.from_tokenizer(codec.tokenizer)


@lru_cache(maxsize=32)
def span_index(text: str, lang: str) -> SpanIndex:
    """The names, numbers and amounts of a whole document (once per document: map-reduce
    reads it for every part and the final pass)."""
    return SpanIndex.build(text, common_words=common_words(lang), names=lang != "de")


def common_words(lang: str) -> frozenset:
    """The stop words a capitalised word may be without being a name."""
    words = frozenset(stopwords(lang))
    if lang == "en":  # single letters are initials, not words, apart from these two
        words = frozenset(w for w in words if len(w) > 1 or w in ("a", "i"))
    return words


def constraint_for(codec: TextCodec, sources: Sequence[tuple], end_ids: Iterable[int], *,
                   config: ConstraintConfig = ConstraintConfig()) -> SpanConstraint:
    """The constraint for one batch: ``sources[i]`` is (document text, language) of text i."""
    return SpanConstraint([span_index(text, lang) for text, lang in sources], token_texts(codec),
                          end_ids=end_ids, config=config)


def names_note(corrections: int, taken_back: int) -> Optional[str]:
    """What the constraint changed in one summary, in words; None when nothing."""
    said = []
    if corrections:
        said.append(f"at {corrections:,} place{'' if corrections == 1 else 's'} the model would "
                    "have written a name or number otherwise, and the document's was kept")
    if taken_back:
        said.append(f"{taken_back:,} name{'' if taken_back == 1 else 's'} or number"
                    f"{'' if taken_back == 1 else 's'} the document does not have "
                    f"{'was' if taken_back == 1 else 'were'} begun, taken back and left out")
    if not said:
        return None
    return "Names and numbers kept to the document: " + "; ".join(said) + "."
