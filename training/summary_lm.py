"""Summarization with a decoder-only model: pairs -> "prompt + article + cue -> summary".

    python -m training lm-summary --base MODEL --data PAIRS --out DIR [--lora]

Each example is the model's own chat format with the instruction and article as the user
turn and the summary as the reply (or, for a model without a chat template, the article
followed by GPT-2's "TL;DR:" cue; Radford et al. 2019, "Language Models are Unsupervised
Multitask Learners", section 3.6). The loss is taken on the summary tokens only, as in
instruction tuning: the model is not taught to write articles.

A length cue between the article and the reply asks for the summary's own word count
("Length: about 23 words."), so that at inference the budget sets the length rather than
the training data's average (BBC's 148-word train references beside 21-word chat summaries).

The pieces are tokenized apart and joined as ids (``prefix + article[:S] + cue + suffix``),
and the exported folder records them in ``condense_summary.json`` (see
``summarizer/abstractive/decoder_only.py``), so inference builds exactly the prompt trained on. Pairs go
through the same cleaning, deduplication and split as the seq2seq route (``data.py``);
the test split is never tokenized. A summary longer than ``max_target_tokens`` is cut and
gets no end token, so the model never learns to stop mid-sentence. Evaluation adds ROUGE
of greedy summaries of the first ``eval_samples`` validation articles to the validation
loss, as for seq2seq models.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from export import ExportConfig
from summarizer.abstractive.extract import extract_to_fit
from summarizer.evaluation.compare import word_count
from summarizer.evaluation.datasets import Pair, deduplicate, load_pairs, split
from summarizer.nlp import resolve_language
from summarizer.types import Document
from summarizer.abstractive.decoder_only import FORMAT_FILE, SummaryPrompt
from runtime.search import cut_at_repeat
from summarizer.evaluation.rouge import make_scorer

from .causal import load_causal
from .config import TrainConfig
from .data import Ids, target_text
from .errors import TrainingError
from .loader import Batch
from .mixture import MixConfig, mixture_pairs
from .run import RunResult, Task, run, seed_everything
from .seq2seq import mean_rouge
from .trainer import EvaluateFn

INSTRUCTION = "Summarize the following article.\n\n"
MARKER = "\u0000ARTICLE\u0000"  # stands for the article while the chat template renders
PLAIN_SUFFIX = "\n\nTL;DR:\n"
LENGTH_CUE = "\n\nLength: about {words} words."
# Written into the prompt format: where a greedy summary starts writing ten tokens it
# already wrote (a sentence over again), the runtime takes them back and tries the
# next-best token, up to twelve times, then ends it (GenerationConfig). Twelve scored
# best of 0, 3, 6 and 12 on BBC validation (docs/BENCHMARKS.md).
STOP_REPEAT = 10
REPEAT_RETRIES = 12
IGNORE = -100


def summary_format(tokenizer, config: TrainConfig, length_cue: str = LENGTH_CUE) -> SummaryPrompt:
    """The chat template's user turn around the article and the length cue, or the TL;DR
    cue; the article's whitespace collapsed (see ``SummaryPrompt.article_whitespace``)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": INSTRUCTION + MARKER}], tokenize=False,
            add_generation_prompt=True)
        if text.count(MARKER) != 1:
            raise TrainingError("the chat template does not show the user's message once",
                                "Use a base model without a chat template")
        prefix, suffix = text.split(MARKER)
    else:
        prefix, suffix = "", PLAIN_SUFFIX
    return SummaryPrompt(prefix, suffix, config.max_source_tokens, config.max_target_tokens,
                         article_whitespace="collapse", stop_repeat_ngram_size=STOP_REPEAT,
                         repeat_retries=REPEAT_RETRIES, length_cue=length_cue)


@dataclass(frozen=True)
class LMExample:
    id: str
    prompt_ids: Ids  # prefix + article + length cue + suffix
    target_ids: Ids  # summary (+ eos unless cut)
    reference: str = ""  # the repaired reference, one sentence per line (for ROUGE)


def prepare_lm_pairs(path, tokenizer, fmt: SummaryPrompt, *, eos_id: int
                     ) -> Tuple[List[LMExample], List[LMExample], Dict]:
    """One pairs file: cleaned, deduplicated and split by the shared rule (``data.py``);
    an article longer than ``max_source_tokens`` is cut."""
    pairs = [p for p in load_pairs(path) if p.article.strip() and p.summary.strip()]
    unique = deduplicate(pairs)
    parts = {name: split(unique, name) for name in ("train", "validation")}
    if not parts["train"]:
        raise TrainingError(f"{path}: no training pairs after deduplication and the split",
                            "Give it at least 3 distinct pairs")
    report: Dict = {"source": str(path), "pairs": len(pairs), "unique": len(unique)}
    return lm_examples(parts, tokenizer, fmt, eos_id=eos_id, report=report)


def prepare_lm_mixture(root, tokenizer, fmt: SummaryPrompt, *, eos_id: int,
                       mix: MixConfig = MixConfig(), ranker=None
                       ) -> Tuple[List[LMExample], List[LMExample], Dict]:
    """The multi-domain mix of the suite folder ``root`` (``mixture.py``). An article
    longer than ``max_source_tokens`` is read as inference reads it: its best sentences
    that fit, in order (``extract_to_fit``), not its opening."""
    train, validation, report = mixture_pairs(Path(root), mix)

    def count_many(texts: List[str]) -> List[int]:
        return [len(x) for x in tokenizer([fmt.article(t) for t in texts],
                                          add_special_tokens=False, verbose=False)["input_ids"]]

    extracted = 0

    def fit(pairs: List[Pair]) -> List[Pair]:
        nonlocal extracted
        out = []
        for p, n in zip(pairs, count_many([p.article for p in pairs]), strict=True):
            if n > fmt.max_source_tokens:
                doc = Document(p.article, resolve_language(None, p.article), p.id)
                got = extract_to_fit(doc, fmt.max_source_tokens, count_many, ranker)
                if got is not None:
                    p = replace(p, article=got.text)
                    extracted += 1
            out.append(p)
        return out

    parts = {"train": fit(train), "validation": fit(validation)}
    report["extracted_articles"] = extracted
    return lm_examples(parts, tokenizer, fmt, eos_id=eos_id, report=report)


def lm_examples(parts: Dict[str, List[Pair]], tokenizer, fmt: SummaryPrompt, *, eos_id: int,
                report: Dict) -> Tuple[List[LMExample], List[LMExample], Dict]:
    """Train and validation pairs as prompt and target ids, and the report with their
    sizes and what was cut."""
    def ids(texts: Sequence[str]) -> List[List[int]]:
        return tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]

    prefix, suffix = ids([fmt.prefix])[0] if fmt.prefix else [], ids([fmt.suffix])[0]
    report = {**report, "format": asdict(fmt)}
    out = {}
    for name, ps in parts.items():
        articles = ids([fmt.article(p.article) for p in ps])
        texts = [target_text(p) for p in ps]
        summaries = ids(texts)
        # the cue asks for the reference's own length, in words as a words budget counts
        cues = ids([fmt.cue(word_count(t, resolve_language(None, p.article)))
                    for p, t in zip(ps, texts, strict=True)]) if fmt.length_cue else [[]] * len(ps)
        rows = []
        for p, a, c, s in zip(ps, articles, cues, summaries, strict=True):
            whole = len(s) + 1 <= fmt.max_target_tokens  # room for the end token too
            target = s + [eos_id] if whole else s[:fmt.max_target_tokens]
            rows.append(LMExample(p.id, tuple(prefix + a[:fmt.max_source_tokens] + c + suffix),
                                  tuple(target), p.reference if name == "validation" else ""))
        out[name] = rows
        report[name] = {"examples": len(rows),
                        "truncated_articles": sum(len(a) > fmt.max_source_tokens for a in articles),
                        "truncated_summaries": sum(len(s) + 1 > fmt.max_target_tokens
                                                   for s in summaries),
                        "longest_prompt": max((len(r.prompt_ids) for r in rows), default=0)}
    return out["train"], out["validation"], report


def collate_lm_pairs(examples: Sequence[LMExample], *, pad_id: int) -> Batch:
    """Right-padded prompt + target rows; labels only on target tokens."""
    rows = [list(e.prompt_ids) + list(e.target_ids) for e in examples]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (e, r) in enumerate(zip(examples, rows)):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
        labels[i, len(e.prompt_ids):len(r)] = torch.tensor(e.target_ids)
    return Batch({"input_ids": ids, "attention_mask": mask, "labels": labels},
                 n_targets=int((labels != IGNORE).sum()))


def lm_summary_loss(model: nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy summed over the summary tokens (each predicted from the one before).

    Logits are computed only from the first position that predicts a summary token on
    (``logits_to_keep``): the LM head over a 49k vocabulary at every article position is
    a fifth of a small model's step, and those logits carry no loss."""
    labels = inputs["labels"]
    targeted = (labels != IGNORE).any(0).nonzero()
    start = max(int(targeted[0]) - 1, 0) if len(targeted) else 0
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                   use_cache=False, logits_to_keep=labels.shape[1] - start).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, start + 1:].flatten(),
                           ignore_index=IGNORE, reduction="sum")


def lm_rouge_evaluator(tokenizer, examples: Sequence[LMExample], *, batch_size: int,
                       max_new_tokens: int, pad_id: int, eos_id: int) -> EvaluateFn:
    """ROUGE F1 x 100 of greedy continuations of the validation prompts (left-padded in
    batches, as the runtime does, and cut where they first start repeating themselves)
    against their references. The runtime's retries (``REPEAT_RETRIES``) are not replayed
    here, so this is the score of the shorter summaries the runtime would write without
    them: a number to compare checkpoints by, below what the exported model scores."""
    scorer = make_scorer()

    @torch.no_grad()
    def evaluate(model: nn.Module) -> Dict[str, float]:
        device = next(model.parameters()).device
        texts: List[str] = []
        for i in range(0, len(examples), batch_size):
            rows = [list(e.prompt_ids) for e in examples[i:i + batch_size]]
            width = max(len(r) for r in rows)
            ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows],
                                device=device)
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=max_new_tokens, eos_token_id=eos_id,
                                 pad_token_id=pad_id)
            for row in out[:, width:].tolist():  # up to the end token (pads follow it)
                row = row[:row.index(eos_id)] if eos_id in row else row
                row = cut_at_repeat(row, STOP_REPEAT)
                texts.append(tokenizer.decode(row, skip_special_tokens=True))
        return mean_rouge([e.reference for e in examples], texts, scorer=scorer)

    return evaluate


def lm_summary_task(base: str, data: str | Path, config: TrainConfig,
                    mix: MixConfig | None = None) -> Tuple[Task, Dict]:
    """``data``: a pairs file, or the suite's data folder for the multi-domain mix
    (``mix``, default ``MixConfig()``)."""
    model, tokenizer = load_causal(base)
    eos = tokenizer.eos_token_id
    if eos is None:
        raise TrainingError(f"{base}'s tokenizer has no end-of-text token",
                            "Set eos_token in its tokenizer_config.json")
    fmt = summary_format(tokenizer, config)
    if Path(data).is_dir():
        train, validation, report = prepare_lm_mixture(data, tokenizer, fmt, eos_id=eos,
                                                       mix=mix or MixConfig())
    else:
        train, validation, report = prepare_lm_pairs(data, tokenizer, fmt, eos_id=eos)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    n = min(config.eval_samples, len(validation))
    evaluate = lm_rouge_evaluator(tokenizer, validation[:n], batch_size=config.batch_size,
                                  max_new_tokens=config.max_target_tokens, pad_id=pad,
                                  eos_id=eos) if n else None
    task = Task(kind="causal-lm", base=str(base), model=model, tokenizer=tokenizer, train=train,
                validation=validation, collate=lambda ex: collate_lm_pairs(ex, pad_id=pad),
                loss_fn=lm_summary_loss, data_report=report, evaluate_fn=evaluate,
                extra_files={FORMAT_FILE: fmt.to_json()})
    return task, report


def train_lm_summary(base: str, data: str | Path, out: str | Path, config: TrainConfig, *,
                     resume: bool = False, export: ExportConfig | None = ExportConfig(),
                     stop_at: int | None = None, mix: MixConfig | None = None) -> RunResult:
    seed_everything(config.seed)
    task, _ = lm_summary_task(base, data, config, mix)
    return run(task, config, Path(out), resume=resume, export=export, stop_at=stop_at)
