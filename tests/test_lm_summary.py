"""Decoder-only summarizers: ``training/summary_lm.py`` (prompt format, labels on the summary
only, the end token only when the summary fits) and ``summarizer/abstractive/decoder_only.py`` (the
exported folder summarizes exactly as transformers' ``generate`` continues the same ids)."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from summarizer.abstractive.seq2seq import AbstractiveConfig
from summarizer.abstractive.factory import make_abstractive
from summarizer.errors import CondenseError
from summarizer.abstractive.decoder_only import LMSummarizer, SummaryPrompt
from runtime.errors import ModelFileError
from summarizer.types import Budget, Document
from tests.tiny_models import CORPUS, make_tiny_causal, make_tiny_gguf, sharpen
from training.config import TrainConfig
from training.summary_lm import (IGNORE, LENGTH_CUE, PLAIN_SUFFIX, LMExample, collate_lm_pairs,
                                 lm_summary_loss, prepare_lm_pairs, summary_format)


def _pairs(path, n=12):
    """``n`` distinct articles of two sentences (a paragraph each); the summary is the first."""
    path.write_text("".join(json.dumps({"id": i, "article": f"{CORPUS[i % 6]}\n\n{CORPUS[(i + 1 + i // 6) % 6]}",
                                        "summary": CORPUS[i % 6]}) + "\n" for i in range(n)))
    return path


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """Weights redrawn with std 0.3: at the default 0.02 the frozen LM head gives near-uniform
    logits whatever LoRA does, and the loss cannot fall."""
    return sharpen(make_tiny_causal("llama", tmp_path_factory.mktemp("lm") / "llama"),
                   AutoModelForCausalLM)


def test_prompt_format_comes_from_the_chat_template(tmp_path):
    from export.gguf import convert_gguf

    ckpt = convert_gguf(make_tiny_gguf(tmp_path / "tiny.gguf"), out=tmp_path / "ckpt")
    fmt = summary_format(AutoTokenizer.from_pretrained(ckpt), TrainConfig(max_source_tokens=40))
    assert fmt.prefix == "<|im_start|>user\nSummarize the following article.\n\n"
    assert fmt.suffix == "<|im_end|>\n<|im_start|>assistant\n"
    assert fmt.length_cue == "\n\nLength: about {words} words."
    assert fmt.cue(23) == "\n\nLength: about 23 words."
    assert (fmt.max_source_tokens, fmt.max_target_tokens) == (40, 128)
    assert fmt.article("Title\n\nFirst one.\n\n Second  one.\n") == "Title First one. Second one."


def test_prompt_format_files_round_trip_and_version_1_keeps_whitespace(tmp_path):
    fmt = SummaryPrompt("<u>", "</u>", 40, 16, "collapse", 10, repeat_retries=3,
                        length_cue=" ({words} words)")
    (tmp_path / "condense_summary.json").write_text(fmt.to_json())
    assert SummaryPrompt.read(tmp_path) == fmt
    assert fmt.cue(9) == " (9 words)" and fmt.cue(None) == ""
    (tmp_path / "condense_summary.json").write_text(fmt.to_json().replace("{words}", "{n}"))
    with pytest.raises(ModelFileError, match="length_cue"):  # a cue with nowhere to put the number
        SummaryPrompt.read(tmp_path)
    meta = {"format": "condense-summary-prompt", "format_version": 1, "prefix": "<u>",
            "suffix": "</u>", "max_source_tokens": 40, "max_target_tokens": 16}
    (tmp_path / "condense_summary.json").write_text(json.dumps(meta))
    old = SummaryPrompt.read(tmp_path)
    assert old.article_whitespace == "keep" and old.article("a\n\nb") == "a\n\nb"
    assert old.stop_repeat_ngram_size == 0 == old.repeat_retries
    assert old.length_cue == "" and old.cue(20) == ""  # before version 3: no cue


def test_examples_label_the_summary_and_end_it_only_when_it_fits(llama, tmp_path):
    tok = AutoTokenizer.from_pretrained(llama)
    assert not tok.chat_template
    # CORPUS sentences are 13 or 14 tokens: with 14, a 13-token summary keeps its end token
    # and a 14-token one is cut (whole, but with no room left for the end)
    fmt = summary_format(tok, TrainConfig(max_source_tokens=6, max_target_tokens=14))
    assert (fmt.prefix, fmt.suffix) == ("", PLAIN_SUFFIX)  # GPT-2's TL;DR cue
    train, validation, report = prepare_lm_pairs(_pairs(tmp_path / "p.jsonl"), tok, fmt, eos_id=2)
    assert (len(train), len(validation)) == (8, 2)  # 12 pairs: 0 and 10 test, 1 and 11 validation
    words = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    by_id = {e.id: e for e in train}
    # the cue asks for the summary's own length: CORPUS[2] is the summary of pair 2
    cue = words(f"\n\nLength: about {len(CORPUS[2].split())} words.")
    assert list(by_id["2"].prompt_ids) == words(CORPUS[2])[:6] + cue + words(PLAIN_SUFFIX)
    # the paragraph break is a space in the prompt, as between the summary's sentences
    long = summary_format(tok, TrainConfig(max_source_tokens=100, max_target_tokens=14),
                          length_cue="")  # no cue: the format of earlier runs
    train, _, _ = prepare_lm_pairs(_pairs(tmp_path / "p.jsonl"), tok, long, eos_id=2)
    assert list({e.id: e for e in train}["2"].prompt_ids) == words(f"{CORPUS[2]} {CORPUS[3]}") + words(PLAIN_SUFFIX)
    assert len(words(CORPUS[2])) == 14 and list(by_id["2"].target_ids) == words(CORPUS[2])
    assert len(words(CORPUS[3])) == 13 and list(by_id["3"].target_ids) == words(CORPUS[3]) + [2]
    assert report["train"]["truncated_articles"] == 8
    assert report["train"]["truncated_summaries"] == 5  # pairs 2, 4, 5, 7, 8: 14 tokens


def test_rouge_evaluation_scores_greedy_summaries_of_validation_prompts(llama, tmp_path):
    from training.seq2seq import mean_rouge
    from training.summary_lm import lm_rouge_evaluator

    tok = AutoTokenizer.from_pretrained(llama)
    model = AutoModelForCausalLM.from_pretrained(llama).eval()
    fmt = summary_format(tok, TrainConfig(max_source_tokens=40, max_target_tokens=6))
    _, validation, _ = prepare_lm_pairs(_pairs(tmp_path / "p.jsonl", 40), tok, fmt, eos_id=2)
    assert len(validation) == 4 and all(e.reference for e in validation)
    assert validation[0].reference == CORPUS[1]  # pair 1: the summary is its first sentence
    evaluate = lm_rouge_evaluator(tok, validation, batch_size=3, max_new_tokens=6, pad_id=0,
                                  eos_id=2)
    texts = []  # one by one, no padding: the batched, left-padded evaluation must agree
    for e in validation:
        with torch.no_grad():
            out = model.generate(input_ids=torch.tensor([e.prompt_ids]), do_sample=False,
                                 max_new_tokens=6, eos_token_id=2, pad_token_id=2)
        texts.append(tok.decode(out[0, len(e.prompt_ids):], skip_special_tokens=True))
    got = evaluate(model)
    assert got == pytest.approx(mean_rouge([e.reference for e in validation], texts))
    assert set(got) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}


def test_collate_and_loss_count_only_summary_tokens(llama):
    model = AutoModelForCausalLM.from_pretrained(llama).eval()
    a, b = LMExample("a", (5, 6, 7), (8, 9, 2)), LMExample("b", (5, 6), (10, 2))
    batch = collate_lm_pairs([a, b], pad_id=0)
    assert batch.inputs["input_ids"].tolist() == [[5, 6, 7, 8, 9, 2], [5, 6, 10, 2, 0, 0]]
    assert batch.inputs["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0]]
    assert batch.inputs["labels"].tolist() == [[IGNORE] * 3 + [8, 9, 2], [IGNORE] * 2 + [10, 2] + [IGNORE] * 2]
    assert batch.n_targets == 5
    with torch.no_grad():
        loss = lm_summary_loss(model, batch.inputs)
        # by hand: each summary token predicted from the position before it
        la = model(input_ids=torch.tensor([[5, 6, 7, 8, 9, 2]])).logits[0]
        lb = model(input_ids=torch.tensor([[5, 6, 10, 2]])).logits[0]
        expected = (F.cross_entropy(la[2:5], torch.tensor([8, 9, 2]), reduction="sum")
                    + F.cross_entropy(lb[1:3], torch.tensor([10, 2]), reduction="sum"))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def test_trained_lm_summarizer_exports_and_summarizes_like_transformers(llama, tmp_path):
    from training.__main__ import main

    out = tmp_path / "run"
    argv = ["lm-summary", "--base", str(llama), "--data", str(_pairs(tmp_path / "p.jsonl", 20)),
            "--out", str(out), "--max-steps", "30", "--lr", "3e-2", "--warmup-steps", "2",
            "--batch-size", "4", "--grad-accum", "1", "--eval-every", "30",
            "--max-source-tokens", "28", "--max-target-tokens", "16", "--lora", "--lora-rank", "8",
            "--lora-targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
            "--no-progress"]
    assert main(argv) == 0
    for folder in ("model", "onnx", "adapter"):
        assert SummaryPrompt.read(out / folder) == SummaryPrompt(
            "", PLAIN_SUFFIX, 28, 16, "collapse", 10, 12, LENGTH_CUE)
    assert "condense_summary.json" in json.loads((out / "onnx/condense_manifest.json").read_text())["files"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert "rouge1" in [r for r in records if r["kind"] == "eval"][-1]
    train = [r for r in records if r["kind"] == "train"]
    assert train[-1]["loss"] < train[0]["loss"] / 2

    # Compared with transformers: both rules of ours off (the constraint could not change
    # a token here anyway: the tiny vocabulary is lower-case words, no digits; checked below)
    summarizer = make_abstractive(AbstractiveConfig(model_dir=str(out / "onnx"), num_beams=1, threads=1,
                                                    constrain_names=False, whole_sentences=False))
    assert isinstance(summarizer, LMSummarizer)
    text = " ".join(CORPUS[3:5])
    summary = summarizer(Document(text, "en"), Budget(ratio=0.9))
    tok = AutoTokenizer.from_pretrained(out / "model")
    model = AutoModelForCausalLM.from_pretrained(out / "model").eval()
    article = tok(text, add_special_tokens=False)["input_ids"]
    assert len(article) <= 28  # one pass, no map-reduce
    # the cue asks for 90% of the article's tokens in words, at 1.4 tokens a word, but no
    # more than the 16 tokens the model was trained to write hold (11 words)
    words = min(round(math.ceil(0.9 * len(article)) / 1.4), 11)
    assert words == 11
    cue = tok(f"\n\nLength: about {words} words.", add_special_tokens=False)["input_ids"]
    prompt = article + cue + tok(PLAIN_SUFFIX, add_special_tokens=False)["input_ids"]
    assert f"The model was asked for about {words} words." in summary.notes
    # a first sentence may take half again the words the model is asked for (10 tokens
    # past 32 in English); without a cue, nothing more and no words asked
    assert (summarizer.sentence_room("en"), summarizer.sentence_room("zh")) == (10, 0)
    plain = LMSummarizer(summarizer.config, model=summarizer.model, codec=summarizer.codec,
                         prompt=dataclasses.replace(summarizer.prompt, length_cue=""))
    assert plain.sentence_room("en") == 0
    assert plain.wanted_words(Budget(words=9), 50, "en") is None
    with torch.no_grad():
        ids = model.generate(input_ids=torch.tensor([prompt]), do_sample=False, num_beams=1,
                             max_new_tokens=16, pad_token_id=tok.eos_token_id)
    expected = tok.decode(ids[0, len(prompt):], skip_special_tokens=True)
    assert summary.text.split() == expected.split() and len(expected.split()) >= 3
    constrained = LMSummarizer(dataclasses.replace(summarizer.config, constrain_names=True),
                               model=summarizer.model, codec=summarizer.codec, prompt=summarizer.prompt)
    assert constrained(Document(text, "en"), Budget(ratio=0.9)) == summary
    assert ("Against repetition: where the model starts repeating 10 tokens it already wrote, "
            "it takes its next-best word instead, up to 12 times; after that, a repeat ends the "
            "summary.") in summary.notes
    # paragraph breaks are collapsed in the prompt, as in training: the same summary
    paragraphs = summarizer(Document(f"{CORPUS[3]}\n\n {CORPUS[4]}", "en"), Budget(ratio=0.9))
    assert paragraphs.text == summary.text
    # the budget asks for at most max_target_tokens; a longer document is read by its best
    # sentences (the default), or in parts when asked
    assert summarizer.generation_config(500).max_new_tokens == 16
    long = summarizer(Document(" ".join(CORPUS), "en"), Budget(ratio=0.5))
    assert any(n.startswith("Long article: summarized from its ") for n in long.notes)
    in_parts = LMSummarizer(dataclasses.replace(summarizer.config, long_documents="map-reduce"),
                            model=summarizer.model, codec=summarizer.codec, prompt=summarizer.prompt)
    long_parts = in_parts(Document(" ".join(CORPUS), "en"), Budget(ratio=0.5))
    assert any(n.startswith("Long article: summarized in ") for n in long_parts.notes)
    # batched: the same summaries as one by one (left padding changes nothing), long ones too.
    # By default documents go one at a time with guesses (fp32 export: exact); batches of
    # 8 when asked, without guesses.
    greedy = summarizer.generation_config(16)
    assert summarizer.batch_rows(greedy) == 1 and summarizer.config.guesses(greedy)
    batched = LMSummarizer(dataclasses.replace(summarizer.config, batch_size=8), model=summarizer.model,
                           codec=summarizer.codec, prompt=summarizer.prompt)
    assert batched.batch_rows(greedy) == 8
    assert batched.config.drafter([np.array([1, 2])] * 2, 1, greedy) is None
    docs = [Document(" ".join(CORPUS[i:i + 2]), "en") for i in range(4)] + [Document(" ".join(CORPUS), "en")]
    many = batched.summarize_many(docs, Budget(ratio=0.9))
    one_by_one = [summarizer(d, Budget(ratio=0.9)) for d in docs]
    assert [m.text for m in many] == [o.text for o in one_by_one]
    assert [m.notes for m in many] == [o.notes for o in one_by_one]
    assert len({m.text for m in many}) > 1
    # a prompt format with repeat retries turns them on, says so, and batches the same way
    retrying = LMSummarizer(summarizer.config, model=summarizer.model, codec=summarizer.codec,
                            prompt=dataclasses.replace(summarizer.prompt, repeat_retries=2))
    assert retrying.generation_config(500).repeat_retries == 2
    again = LMSummarizer(batched.config, model=summarizer.model, codec=summarizer.codec,
                         prompt=retrying.prompt).summarize_many(docs, Budget(ratio=0.9))
    assert [m.text for m in again] == [retrying(d, Budget(ratio=0.9)).text for d in docs]
    assert any(n.startswith("Against repetition: ") and "word instead, up to 2 times;" in n
               for n in again[0].notes)


def test_a_bad_prompt_format_is_a_typed_error(tmp_path):
    (tmp_path / "condense_summary.json").write_text('{"format": "other"}')
    with pytest.raises(CondenseError, match="unreadable summary prompt format"):
        SummaryPrompt.read(tmp_path)


def test_the_cli_uses_the_builtin_summarizer_without_model(llama, tmp_path, monkeypatch, capsys):
    """A stand-in for the shipped summarizer, prepared in its cache folder: ``--method
    abstractive`` without ``--model`` summarizes with it, and ``setup`` names its folder."""
    import runtime.builtin as builtin
    from export import ExportConfig, export_onnx
    from summarizer.__main__ import main

    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    stand_in = builtin.BuiltinModel(name="tiny-sum")
    monkeypatch.setattr(builtin, "SUMMARY_MODEL", stand_in)
    export_onnx(str(llama), out=stand_in.folder(), config=ExportConfig(task="causal-lm", validate=False))
    (stand_in.folder() / "condense_summary.json").write_text(
        SummaryPrompt("", PLAIN_SUFFIX, 40, 12, "collapse").to_json())
    doc = tmp_path / "doc.txt"
    doc.write_text(f"{CORPUS[0]}\n\n{CORPUS[1]}\n")
    assert main(["summarize", str(doc), "--method", "abstractive", "--sentences", "1"]) == 0
    expected = LMSummarizer(AbstractiveConfig(model_dir=str(stand_in.folder())))(
        Document(f"{CORPUS[0]}\n\n{CORPUS[1]}", "en"), Budget(sentences=1))
    assert capsys.readouterr().out.strip() == expected.text.strip() and expected.text.strip()
    assert main(["setup"]) == 0
    assert capsys.readouterr().out.strip() == str(stand_in.folder())


def test_what_is_left_where_decoding_stopped_on_a_repeat():
    from summarizer.abstractive.decoder_only import drop_repeats

    # the summary started over: the fragment that begins its first sentence goes
    assert drop_repeats("The dollar rose. It fell. The") == "The dollar rose. It fell."
    assert drop_repeats("The dollar rose.\nIt fell.  The dollar rose. It") == "The dollar rose. It fell."
    assert drop_repeats('He said "no." Then left. He said') == 'He said "no." Then left.'
    # an unfinished sentence that repeats nothing stays (the length cap cut it)
    assert drop_repeats("One two. Three four") == "One two. Three four"
    assert drop_repeats("") == ""
    # the same sentence again with its spaces dropped is a repeat too (40 letters in a row)
    first = "The firm has become the third leading online search firm this week."
    glued = "Ask Jeeves has became thethird leadingonline searchfirm thisweek tothank a revival."
    other = "Its profit for the quarter was dwarfed by the figure announced by rival Google."
    assert drop_repeats(f"{first} {glued} {other}") == f"{first} {other}"
    assert drop_repeats(f"{first} The firm has become the thirdleading") == first  # contained
    # different sentences sharing under 40 letters in a row both stay
    assert drop_repeats(f"{first} The firm has become a leader in Europe.") == \
        f"{first} The firm has become a leader in Europe."


def test_the_mixture_reads_a_long_article_by_its_best_sentences(llama, tmp_path):
    """``--data DIR``: pairs from the suite's sets; an article over max_source_tokens is
    the extractive input inference would give the model, not its opening."""
    import gzip

    from summarizer.abstractive.extract import extract_to_fit
    from training.mixture import MixConfig
    from training.summary_lm import prepare_lm_mixture

    root = tmp_path / "data"
    (root / "multidomain/samsum").mkdir(parents=True)
    long = " ".join(CORPUS)  # six sentences, 80 tokens or so
    for split, rows in (("train", [long, CORPUS[0]]), ("validation", [CORPUS[1]])):
        with gzip.open(root / f"multidomain/samsum/{split}.jsonl.gz", "wt") as f:
            for i, text in enumerate(rows):
                f.write(json.dumps({"id": str(i), "article": text, "summary": CORPUS[2]}) + "\n")
    tok = AutoTokenizer.from_pretrained(llama)
    fmt = summary_format(tok, TrainConfig(max_source_tokens=30, max_target_tokens=20))
    train, validation, report = prepare_lm_mixture(root, tok, fmt, eos_id=2,
                                                   mix=MixConfig(counts=(("samsum", 5),)))
    words = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    count = lambda texts: [len(words(t)) for t in texts]  # noqa: E731
    fitted = extract_to_fit(Document(long, "en"), 30, count)
    assert 0 < fitted.tokens <= 30 and fitted.kept < 6
    assert [e.id for e in train] == ["samsum/0", "samsum/1"] and len(validation) == 1
    cue = words(fmt.cue(13))  # CORPUS[2], the summary, has 13 words
    assert list(train[0].prompt_ids) == words(fitted.text) + cue + words(PLAIN_SUFFIX)
    assert list(train[1].prompt_ids) == words(CORPUS[0]) + cue + words(PLAIN_SUFFIX)
    assert report["extracted_articles"] == 1 and report["train"]["truncated_articles"] == 0
