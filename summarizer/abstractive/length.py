"""How long an abstractive summary may be, and the notes that tell its reader how it was
made, in plain words.

A budget (sentences, a ratio, words or automatic, ``summarizer.types.Budget``) becomes a
limit on new tokens by rough conversions stated here. The notes keep every fact the
summarizer used (the token limit, the model's own limits, how a long document was cut)
but say it as a reader of the summary would: "Length: up to about 60 words (84 tokens),
for a tenth of the article's 600 words or so.", "Long article: summarized in 3 parts,
then combined. ..."
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

from summarizer.types import Budget, auto_bound, auto_words

TOKENS_PER_WORD = 1.4  # rough subword tokens per English word
TOKENS_PER_SENTENCE = 32
# Chinese, Japanese and Korean: byte-level vocabularies spend 1-3 tokens on a character
# (SmolLM2: 193 tokens for LCSTS train articles of 108 characters, 35 for their one-line
# headlines of 18), so 32 tokens is a headline cut in two: on the suite's Chinese sets a
# third to a half of the built-in summarizer's one-sentence summaries stopped inside it
# (docs/QUALITY.md). 64 holds a sentence of about 35 characters.
TOKENS_PER_CJK_SENTENCE = 64
# ... and a word (jieba's, about 1.6 characters) about twice an English word's 1.4, so a
# word budget and the automatic length (the app's default) get twice the tokens too.
TOKENS_PER_CJK_WORD = 2.8
CJK = ("zh", "ja", "ko")
# Words in a sentence of a summary, for a model told how many words to write (a length
# cue, ``decoder_only.SummaryPrompt.length_cue``) when the budget counts sentences. Mean
# words per reference sentence, first 400 of each suite train split: chats 10, spoken
# dialogues 13, TL;DRs 20, CNN/DailyMail highlights 13, BBC 25; Chinese headlines 9
# (LCSTS, jieba words). 20 gives a one-sentence budget the length of the chat, dialogue
# and TL;DR references (21, 23 and 21 words) and stays within TOKENS_PER_SENTENCE.
WORDS_PER_SENTENCE = 20
WORDS_PER_CJK_SENTENCE = 9
# A length-cued model's first sentence may take half again the words it is asked for (20
# words -> 42 tokens in English, 10 more than TOKENS_PER_SENTENCE; none more in Chinese,
# whose 64 already hold it). Asked for 20 words, it wrote one-sentence TL;DRs of 29-31
# words that 32 tokens and a fifth more cut inside (SciTLDR: 5 per 100); with 42, none,
# ROUGE-1 on SciTLDR, SAMSum and DialogSum within 0.5. Only the first: where a later
# sentence runs over, the summary ends at the one before it (endings.py), and 42 for each
# of CNN/DailyMail's 3 made summaries of 66 words, not 53, and ROUGE-1 33.9, not 35.0
# (10 more for the first only: 58 words, 34.4; docs/QUALITY.md).
CUED_ROOM = 1.5


def tokens_per_sentence(lang: str = "en") -> int:
    return TOKENS_PER_CJK_SENTENCE if lang in CJK else TOKENS_PER_SENTENCE


def cued_sentence_room(lang: str = "en") -> int:
    """Tokens past ``tokens_per_sentence`` that the first sentence of a sentences budget
    may take when the model is told the words it should have (``CUED_ROOM``)."""
    words = WORDS_PER_CJK_SENTENCE if lang in CJK else WORDS_PER_SENTENCE
    wanted = math.ceil(CUED_ROOM * words * tokens_per_word(lang))
    return max(0, wanted - tokens_per_sentence(lang))


def tokens_per_word(lang: str = "en") -> float:
    return TOKENS_PER_CJK_WORD if lang in CJK else TOKENS_PER_WORD


def new_tokens_for(budget: Budget, input_tokens: int, lang: str = "en", *,
                   sentence_room: int = 0) -> int:
    """A generation length for a budget given in sentences, ratio or words.

    Rough conversions, stated so they can be overridden with ``max_new_tokens``: about
    1.4 subword tokens per English word and 32 tokens per sentence (twice both in Chinese,
    Japanese and Korean; ``sentence_room`` more for the first sentence); ``auto``
    applies ``auto_words`` to the input's length.
    """
    per_word = tokens_per_word(lang)
    if budget.words is not None:
        n = math.ceil(budget.words * per_word)
    elif budget.sentences is not None:
        n = tokens_per_sentence(lang) * budget.sentences + sentence_room
    elif budget.auto:  # the extractive rule on the input's length in words
        n = math.ceil(auto_words(round(input_tokens / per_word)) * per_word)
    else:
        n = math.ceil((budget.ratio or 0.2) * input_tokens)
    return max(8, n)


def wanted_words(budget: Budget, input_tokens: int, lang: str = "en") -> int:
    """How many words to ask a length-cued model for: a words budget as given, a
    sentences budget at ``WORDS_PER_SENTENCE``, a ratio or the automatic length as
    ``new_tokens_for`` counts them, in words."""
    if budget.words is not None:
        return budget.words
    if budget.sentences is not None:
        per = WORDS_PER_CJK_SENTENCE if lang in CJK else WORDS_PER_SENTENCE
        return per * budget.sentences
    return max(1, round(new_tokens_for(budget, input_tokens, lang) / tokens_per_word(lang)))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def length_note(budget: Budget, input_tokens: int, asked: int, allowed: int,
                lang: str = "en", *, sentence_room: int = 0) -> str:
    """How long the summary may be and why: ``asked`` tokens is what ``budget`` comes to
    (``new_tokens_for``), ``allowed`` what the model was let write (less when the model
    writes no more)."""
    words = round(allowed / TOKENS_PER_WORD)
    if budget.words is not None:
        why = "as asked"
    elif budget.sentences is not None:
        why = (f"{_plural(budget.sentences, 'sentence')} asked for, at about "
               f"{tokens_per_sentence(lang)} tokens a sentence"
               + (f" and {sentence_room} more for the first" if sentence_room else ""))
    elif budget.auto:
        article = round(input_tokens / tokens_per_word(lang))
        bound = auto_bound(article)
        if bound:
            why = f"the {bound} automatic length (the article has about {_plural(article, 'word')})"
        else:
            why = f"a tenth of the article, which has about {_plural(article, 'word')}"
    else:
        why = f"{budget.ratio:.0%} of the article's {input_tokens:,} tokens"
    length = f"Length: up to about {_plural(words, 'word')} ({allowed:,} tokens)"
    if lang in CJK:  # words per token are an English figure
        length = f"Length: up to {allowed:,} tokens"
    if allowed < asked:
        return f"{length}, the most this model writes; {why} would be {asked:,} tokens."
    return f"{length}, {why}." if budget.words is not None else f"{length}: {why}."


def repetition_note(ngram: int, retries: int) -> str:
    """What decoding does where the model starts repeating itself."""
    if retries:
        times = "once" if retries == 1 else f"up to {retries:,} times"
        return (f"Against repetition: where the model starts repeating {ngram} tokens it "
                f"already wrote, it takes its next-best word instead, {times}; after that, a "
                "repeat ends the summary.")
    return (f"Against repetition: the summary ends where the model starts repeating {ngram} "
            "tokens it already wrote.")


def parts_note(rounds: Sequence[Tuple[int, int]], final_tokens: int, limit: int,
               overlap: int) -> str:
    """How a document longer than the model's input was summarized: ``rounds`` holds
    (tokens, parts) per round of part summaries; ``final_tokens`` is the length of the
    joined part summaries that the summary was written from."""
    shared = f", each sharing {_plural(overlap, 'sentence')} with the next" if overlap else ""
    # A later round can be one part: joined summaries can count a few tokens more than the
    # sentences they are packed from.
    again = [f"their summaries again in {parts:,} parts" if parts > 1 else "their summaries once more"
             for _, parts in rounds[1:]]
    head = ", ".join([f"Long article: summarized in {_plural(rounds[0][1], 'part')}", *again,
                      "then combined."])
    detail = [f"It has {rounds[0][0]:,} tokens and the model reads at most {limit:,} at a time, "
              f"so it was cut into {_plural(rounds[0][1], 'part')}{shared}"]
    detail += [f"their summaries ({tokens:,} tokens) were still too long and were "
               + (f"cut into {parts:,} parts" if parts > 1 else "summarized once more")
               for tokens, parts in rounds[1:]]
    detail.append(f"the summary was then written from the parts' summaries ({final_tokens:,} "
                  "tokens together)")
    return f"{head} {'; '.join(detail)}."
