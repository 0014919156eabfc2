"""Our ONNX Runtime generation against transformers' ``generate`` on tiny random models.

Each model is built from a config in ``tests/tiny_models.py``, its weights redrawn with a
larger spread (std 0.3) so that next-token scores are not near-ties, saved, exported with
our export command, and then decoded by both: token ids must be identical.

Those comparisons decode through ``runtime.search.generate`` with no constraint (the
names-and-numbers rule and whole sentences are the summarizer's, off here by
construction); tests of the summarizer itself compare it with itself (batched against one
by one, with and without guesses, the command line against the library), rules on.
"""
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoModelForSeq2SeqLM

from export import ExportConfig, export_onnx
from runtime.config import GenerationConfig
from runtime.drafting import PromptLookup, exact_in_one_run
from runtime.search import greedy_search
from runtime.seq2seq import Seq2SeqOnnx
from summarizer.errors import CondenseError
from summarizer.abstractive.seq2seq import AbstractiveConfig, AbstractiveSummarizer, load_model
from summarizer.types import Budget, Document
from tests.parity import Guesser, encode_texts, generate_ours, generate_theirs
from tests.tiny_models import CORPUS, make_tiny_seq2seq, sharpen

KINDS = ("bart", "t5", "encoder-decoder")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """kind -> (checkpoint folder, fp32 ONNX folder); plus ("bart-int8") -> int8 folder."""
    root = tmp_path_factory.mktemp("abstractive")
    out = {}
    for kind in KINDS:
        ckpt = sharpen(make_tiny_seq2seq(kind, root / kind), AutoModelForSeq2SeqLM)
        out[kind] = (ckpt, export_onnx(str(ckpt), out=root / f"{kind}-onnx",
                                       config=ExportConfig(validate=False)).folder)
    ckpt = out["bart"][0]
    out["bart-int8"] = (ckpt, export_onnx(str(ckpt), out=root / "bart-int8",
                                          config=ExportConfig(quantize="int8", validate=False)).folder)
    return out


SETTINGS = [
    dict(num_beams=1, max_new_tokens=16),
    dict(num_beams=2, max_new_tokens=12),
    dict(num_beams=4, max_new_tokens=12),
    dict(num_beams=4, max_new_tokens=12, length_penalty=2.0, no_repeat_ngram_size=2, early_stopping=True),
    dict(num_beams=2, max_new_tokens=10, min_new_tokens=6, early_stopping="never"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_token_ids_identical_to_transformers(models, kind, settings):
    ckpt, folder = models[kind]
    ids, mask = encode_texts(ckpt, CORPUS[:3])  # a padded batch of three
    assert (mask == 0).any()
    expected = generate_theirs(ckpt, ids, mask, **settings)
    np.testing.assert_array_equal(generate_ours(folder, ids, mask, **settings), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_guesses_checked_in_one_run_give_transformers_greedy(models, kind):
    """Speculative greedy search on the exported graphs (BART's fused, T5's as Optimum
    writes them, BERT2BERT without a cache): a guesser that knows transformers' answer but
    gets every third guess wrong makes each run check several tokens, keep some and drop
    the rest from the cache. The ids must still be transformers' greedy ones, and so
    must those with prompt lookup, the summarizer's drafter."""
    ckpt, folder = models[kind]
    ids, mask = encode_texts(ckpt, CORPUS[:3])
    model = Seq2SeqOnnx.load(folder)
    config = model.generation_config.override(max_new_tokens=16)
    expected = generate_theirs(ckpt, ids, mask, max_new_tokens=16)
    prompt = np.full((3, 1), config.decoder_start_token_id)
    guesser = Guesser(expected, vocab=int(expected.max()) + 1, tokens=4, wrong=3)
    out = greedy_search(model, model.start(model.encode(ids, mask), mask), prompt, config, drafter=guesser)
    np.testing.assert_array_equal(out.sequences, expected)
    assert out.model_runs <= 8  # 16 tokens, 3 per run (2 right guesses + the model's own)
    lookup = PromptLookup([row[m.astype(bool)] for row, m in zip(ids, mask)], skip=1)
    out = greedy_search(model, model.start(model.encode(ids, mask), mask), prompt, config, drafter=lookup)
    np.testing.assert_array_equal(out.sequences, expected)


def test_lookup_is_left_off_for_dynamic_int8_unless_asked(models):
    """Dynamic int8 rounds a run's activations with one scale for all its tokens, so a
    token's logits change when guesses run with it (float graphs: only the summation
    order does): "auto" drafts for fp32 only; "lookup" drafts anyway."""
    fp32, int8 = str(models["bart"][1]), str(models["bart-int8"][1])
    ids, mask = encode_texts(models["bart"][0], CORPUS[:1])
    tokens = np.array([[2, 40, 41, 42, 43]])
    gaps = {}
    for name, folder in (("fp32", fp32), ("int8", int8)):
        model = Seq2SeqOnnx.load(folder)
        first = model.extend(tokens[:, :1], model.start(model.encode(ids, mask), mask), 1)[1]
        together, _ = model.extend(tokens, first, 4)  # 4 tokens after the cache, one run
        state, alone = first, []
        for t in range(2, 6):  # the same 4, one run each
            logits, state = model.step(tokens[:, :t], state)
            alone.append(logits)
        gaps[name] = float(np.abs(together - np.stack(alone, axis=1)).max())
    assert gaps["fp32"] < 1e-4 < 1e-2 < gaps["int8"], gaps
    assert exact_in_one_run(fp32) and not exact_in_one_run(int8)
    greedy = GenerationConfig(num_beams=1)
    sources = [np.array([5, 6, 7])]
    assert isinstance(AbstractiveConfig(model_dir=fp32).drafter(sources, 1, greedy), PromptLookup)
    assert AbstractiveConfig(model_dir=int8).drafter(sources, 1, greedy) is None
    assert isinstance(AbstractiveConfig(model_dir=int8, draft="lookup").drafter(sources, 1, greedy), PromptLookup)
    assert AbstractiveConfig(model_dir=fp32, draft="none").drafter(sources, 1, greedy) is None
    assert AbstractiveConfig(model_dir=fp32).drafter(sources, 1, GenerationConfig(num_beams=2)) is None


def test_summaries_with_and_without_lookup_are_the_same(models):
    folder = str(models["bart"][1])
    doc = Document(" ".join(CORPUS[:4]), "en")
    runs = []
    model, codec = load_model(folder)
    checked = model.extend

    def extend(ids, state, n):  # what the summarizer asks the model for, per run
        runs.append(n)
        return checked(ids, state, n)

    model.extend = extend
    try:
        summaries = [AbstractiveSummarizer(AbstractiveConfig(model_dir=folder, max_new_tokens=24, draft=d),
                                           model=model, codec=codec)(doc, Budget(sentences=2)).generated
                     for d in ("auto", "none")]
    finally:
        del model.extend
    assert summaries[0] == summaries[1]
    with_lookup, without = runs[:-24], runs[-24:]
    assert without == [1] * 24 and max(with_lookup) > 1 and len(with_lookup) < 24
    with pytest.raises(CondenseError, match="draft must be one of"):
        AbstractiveConfig(model_dir=folder, draft="medusa")


def test_kv_cache_is_used_where_the_export_has_one(models):
    assert Seq2SeqOnnx.load(models["bart"][1]).has_cache
    assert Seq2SeqOnnx.load(models["t5"][1]).has_cache
    assert not Seq2SeqOnnx.load(models["encoder-decoder"][1]).has_cache


@pytest.mark.parametrize("kind", ("bart", "t5"))
def test_batch_equals_one_by_one(models, kind):
    ckpt, folder = models[kind]
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), max_new_tokens=10, num_beams=2))
    config = summarizer.generation_config(10)
    together = summarizer.generate_texts(CORPUS, config)
    alone = [summarizer.generate_texts([t], config)[0] for t in CORPUS]
    assert together == alone
    assert any(together)
    docs = [Document(t, "en") for t in CORPUS]
    assert [s.text for s in summarizer.summarize_many(docs, Budget(ratio=0.5))] == \
        [summarizer(d, Budget(ratio=0.5)).text for d in docs]


def test_int8_runs_and_stays_close(models):
    ckpt, fp32 = models["bart"]
    _, int8 = models["bart-int8"]
    ids, mask = encode_texts(ckpt, CORPUS[:2])
    logits = []
    for folder in (fp32, int8):
        model = Seq2SeqOnnx.load(folder)
        state = model.start(model.encode(ids, mask), mask)
        logits.append(model.step(np.full((2, 1), model.generation_config.decoder_start_token_id), state)[0])
    scale = np.abs(logits[0]).max()
    assert np.abs(logits[0] - logits[1]).max() < 0.1 * scale
    assert generate_ours(int8, ids, mask, max_new_tokens=6).shape == (2, 7)


def test_long_input_goes_through_map_reduce(models):
    _, folder = models["t5"]
    summarizer = AbstractiveSummarizer(AbstractiveConfig(
        model_dir=str(folder), max_input_tokens=20, max_new_tokens=6, num_beams=1,
        long_documents="map-reduce"))
    doc = Document(" ".join(CORPUS * 2), "en")
    parts = []
    summary = summarizer(doc, Budget(sentences=1), on_progress=parts.append)
    assert summary.is_abstractive and summary.sentences == ()
    note = next(n for n in summary.notes if n.startswith("Long article: summarized in "))
    # the parts the note counts are the ones reported as they were written
    count = int(note.split("cut into ")[1].split()[0])
    assert {(p.last, p.parts) for p in parts if p.parts} >= {(count, count)}
    assert (f"It has {summarizer.codec.count(doc.text):,} tokens and the model reads at most "
            f"{summarizer.input_budget} at a time") in note
    # the final pass saw text that fits the model
    assert int(note.split("parts' summaries (")[1].split()[0].replace(",", "")) <= summarizer.input_budget


def test_short_input_is_one_pass_and_streams(models):
    _, folder = models["t5"]
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), max_new_tokens=8, num_beams=1))
    seen = []
    summary = summarizer(Document(CORPUS[0], "en"), Budget(sentences=1), on_progress=seen.append)
    assert not [n for n in summary.notes if n.startswith("Long article")]
    assert all(p.parts == 0 and p.round == 0 for p in seen)  # one pass, no parts
    texts = [p.text for p in seen]
    assert texts[0] == "" and all(a == b[:len(a)] for a, b in zip(texts, texts[1:]))  # growing
    assert texts[-1].split() == summary.text.split()


def test_cli_abstractive(models, tmp_path):
    import subprocess
    import sys

    _, folder = models["bart"]
    doc = tmp_path / "doc.txt"
    doc.write_text(" ".join(CORPUS[:2]))
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "summarizer", "summarize", str(doc), "--method", "abstractive",
                          "--model", str(folder), "--max-new-tokens", "8", "--num-beams", "2"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), max_new_tokens=8, num_beams=2))(
        Document(" ".join(CORPUS[:2]), "en"), Budget(ratio=0.2))
    assert res.stdout.strip() == expected.text.strip()


def test_cli_draft_flag_reaches_the_config(models):
    from summarizer.__main__ import _abstractive, build_parser

    folder = str(models["bart"][1])
    base = ["summarize", "doc.txt", "--method", "abstractive", "--model", folder]
    assert _abstractive(build_parser().parse_args(base)).draft == "auto"
    assert _abstractive(build_parser().parse_args(base + ["--draft", "none"])).draft == "none"
    assert _abstractive(build_parser().parse_args(base)).constrain_names is True
    for command in ("summarize", "batch"):
        args = [command, "doc.txt"] + (["--out", "out.jsonl"] if command == "batch" else [])
        args += ["--method", "abstractive", "--model", folder, "--no-constrain-names"]
        assert _abstractive(build_parser().parse_args(args)).constrain_names is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--draft", "medusa"])


def test_folder_exported_by_optimum_itself_loads(models, tmp_path):
    """``optimum-cli export onnx`` output (merged decoder alongside the separate ones)."""
    from optimum.exporters.onnx import main_export

    ckpt, _ = models["t5"]
    main_export(str(ckpt), tmp_path / "optimum", task="text2text-generation-with-past")
    ids, mask = encode_texts(ckpt, CORPUS[:2])
    settings = dict(num_beams=2, max_new_tokens=8)
    np.testing.assert_array_equal(generate_ours(tmp_path / "optimum", ids, mask, **settings),
                                  generate_theirs(ckpt, ids, mask, **settings))


def test_one_model_shared_by_threads(models):
    from concurrent.futures import ThreadPoolExecutor

    _, folder = models["t5"]
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), max_new_tokens=8, num_beams=2))
    config = summarizer.generation_config(8)
    expected = [summarizer.generate_texts([t], config)[0] for t in CORPUS]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda t: summarizer.generate_texts([t], config)[0], CORPUS * 2))
    assert got == expected * 2


def test_output_length_is_capped_at_the_decoder_positions_with_a_note(models):
    _, folder = models["bart"]  # 64 positions in the tiny config
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), max_new_tokens=500, num_beams=1))
    summary = summarizer(Document(CORPUS[0], "en"), Budget(sentences=1))
    assert "This model's decoder has 64 positions, so it writes at most 63 tokens." in summary.notes


class _FixedRanker:
    """A sentence ranker with given scores (best first by score, ties by position)."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def score_for(self, document, sentences, tokenizer, budget):
        assert len(sentences) == len(self.scores)
        return self.scores

    def rank(self, scores, sentences, tokenizer, budget):
        return np.argsort(-scores, kind="stable").tolist()


def _words(texts):
    return [len(t.split()) for t in texts]


def test_extract_to_fit_by_hand():
    from summarizer.abstractive.extract import extract_to_fit

    doc = Document("One two three. Four five. Six seven eight nine. Ten.", "en")
    # by rank: sentence 2 (4 words), 0 (3), 1 (2), 3 (1); a limit of 6 words keeps 2, skips
    # 0 (7 > 6), keeps 1 (6), skips 3 (7): sentences 1 and 2, in document order
    out = extract_to_fit(doc, 6, _words, _FixedRanker([0.5, 0.2, 0.9, 0.1]))
    assert (out.text, out.kept, out.sentences, out.tokens) == ("Four five. Six seven eight nine.", 2, 4, 6)
    # a joined text that counts one more than its sentences: the ranker's last pick goes
    counted = lambda texts: [n + (len(texts) == 1 and t.count(".") > 1) for t, n in zip(texts, _words(texts))]
    out = extract_to_fit(doc, 6, counted, _FixedRanker([0.5, 0.2, 0.9, 0.1]))
    assert (out.text, out.kept, out.tokens) == ("Six seven eight nine.", 1, 4)
    assert extract_to_fit(doc, 0, _words, _FixedRanker([0.5, 0.2, 0.9, 0.1])) is None


def test_long_input_extract_then_abstract(models):
    from summarizer.abstractive.extract import extract_to_fit

    _, folder = models["t5"]
    doc = Document(" ".join(CORPUS * 2), "en")
    config = AbstractiveConfig(model_dir=str(folder), max_input_tokens=20, max_new_tokens=6,
                               num_beams=1, constrain_names=False, long_documents="extract")
    summarizer = AbstractiveSummarizer(config)
    parts = []
    summary = summarizer(doc, Budget(sentences=1), on_progress=parts.append)
    extracted = extract_to_fit(doc, summarizer.input_budget, summarizer.codec.count_many)
    assert 0 < extracted.tokens <= summarizer.input_budget and extracted.kept < extracted.sentences
    assert extracted.note(summarizer.codec.count(doc.text), summarizer.input_budget) in summary.notes
    assert not [p for p in parts if p.parts]  # one pass: no parts written
    # the summary is the model's summary of the extracted sentences
    direct = summarizer(Document(extracted.text, "en"), Budget(sentences=1))
    assert summary.generated == direct.generated
    with pytest.raises(CondenseError, match="long_documents"):
        AbstractiveConfig(model_dir=str(folder), long_documents="truncate")
