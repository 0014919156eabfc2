"""Hostile model folders (issue #21, items 3 and 5): every way a folder can be broken gives
a typed error that names the file at fault and the fix, exit status 2 on the command
lines and a message in the app; settings a folder asks for are bounded; generated text
never ends in half a character.

The models are built here, in a few milliseconds, from ONNX's helpers: a "bigram" graph
whose logits at each position are a row of a table picked by the token there, so greedy
decoding follows a chain of tokens we choose. The tokenizer is a byte-level BPE trained on
English only (as in ``test_generation.py``), so every Chinese character is three tokens
and a token limit can end inside one.
"""
import json
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
from tokenizers import models as bpe_models

from generation import Decoding, GenerationError, Generator
from generation.__main__ import main as generation_main
from generation.streaming import TextStream
from runtime.causal import CausalFolderError, CausalOnnx
from runtime.config import DecodingLimits, read_generation_config
from runtime.errors import CondenseError, ModelFileError
from runtime.seq2seq import ModelFolderError, Seq2SeqOnnx
from runtime.text import INCOMPLETE_NOTE, REPLACEMENT, TextCodec, TokenizerError
from summarizer.__main__ import main as summarizer_main
from summarizer.abstractive.seq2seq import AbstractiveConfig
from summarizer.registry import get_summarizer
from summarizer.types import Budget, Document

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ["the council approved the new budget", "rain flooded the valley", "the team won"]
GENERATED = "ok 北京"  # what the causal model writes after "the": 北 and 京 are 3 tokens each
SUMMARY = "the team won the new budget"  # what the seq2seq model writes for any input
ARTICLE = "The council approved the new budget. Rain flooded the valley. The team won."
EOS = 0
REEXPORT = "python -m export onnx"


# -- tiny models ----------------------------------------------------------------------
def byte_bpe() -> Tokenizer:
    tok = Tokenizer(bpe_models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<eos>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def chain_table(vocab: int, start: int, ids) -> np.ndarray:
    """(V, V) logits: after ``start`` comes ids[0], after ids[i] ids[i+1], then the end token;
    every other token is followed by the end token. The ids must be distinct."""
    table = np.full((vocab, vocab), -10.0, dtype=np.float32)
    table[:, EOS] = 10.0
    for prev, nxt in zip([start, *ids], [*ids, EOS]):
        table[prev] = -10.0
        table[prev, nxt] = 10.0
    return table


def save_graph(path: Path, nodes, inputs, output, dims, initializers) -> None:
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["N", "T"]) for n in inputs]
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", "T", dims])
    weights = [numpy_helper.from_array(a, n) for n, a in initializers.items()]
    graph = helper.make_graph(nodes, "g", ins, [out], initializer=weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def bigram(path: Path, table: np.ndarray, inputs) -> None:
    """logits (N, T, V) = table[input_ids]: the next token depends on the last one only."""
    save_graph(path, [helper.make_node("Gather", ["table", "input_ids"], ["logits"])], inputs,
               "logits", table.shape[0], {"table": table})


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def make_causal(folder: Path) -> Path:
    """model.onnx + tokenizer.json + configs: greedy decoding after "the" writes GENERATED."""
    folder.mkdir(parents=True)
    tok = byte_bpe()
    tok.save(str(folder / "tokenizer.json"))
    ids = tok.encode(GENERATED).ids
    assert len(set(ids)) == len(ids)
    bigram(folder / "model.onnx", chain_table(tok.get_vocab_size(), tok.encode("the").ids[-1], ids),
           ["input_ids", "attention_mask"])
    write_json(folder / "config.json", {"n_positions": 64, "vocab_size": tok.get_vocab_size()})
    write_json(folder / "generation_config.json", {"eos_token_id": EOS, "pad_token_id": EOS})
    return folder


def make_seq2seq(folder: Path) -> Path:
    """encoder_model.onnx + decoder_model.onnx (no cache) + tokenizer + configs: writes SUMMARY."""
    folder.mkdir(parents=True)
    tok = byte_bpe()
    tok.save(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    emb = np.random.default_rng(0).normal(size=(vocab, 4)).astype(np.float32)
    save_graph(folder / "encoder_model.onnx",
               [helper.make_node("Gather", ["emb", "input_ids"], ["last_hidden_state"])],
               ["input_ids", "attention_mask"], "last_hidden_state", 4, {"emb": emb})
    # The decoder starts from the end token (as BART does), which leads into the summary.
    table = chain_table(vocab, EOS, tok.encode(SUMMARY).ids)
    bigram(folder / "decoder_model.onnx", table, ["input_ids"])
    ids = {"decoder_start_token_id": EOS, "eos_token_id": EOS, "pad_token_id": EOS}
    write_json(folder / "config.json", {"max_position_embeddings": 64, "vocab_size": vocab, **ids})
    write_json(folder / "generation_config.json", ids)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return {"causal": make_causal(root / "causal"), "seq2seq": make_seq2seq(root / "seq2seq")}


@pytest.fixture
def copy_of(built, tmp_path):
    """A fresh copy of a good folder, to break one file of."""
    def copy(kind: str) -> Path:
        return Path(shutil.copytree(built[kind], tmp_path / kind))
    return copy


def load(kind: str, folder: Path):
    """Load the folder the way its users do: the summarizer (get_summarizer, as the CLI,
    batch and Ray workers do) for seq2seq, the runtime model for causal."""
    if kind == "seq2seq":
        return get_summarizer("abstractive", abstractive=AbstractiveConfig(model_dir=str(folder)))
    CausalOnnx.load(folder)
    return TextCodec.load(folder, pad_id=EOS)


GRAPH = {"seq2seq": "decoder_model.onnx", "causal": "model.onnx"}


def test_good_folders_work(built):
    """The baseline the hostile cases break: both folders load and write their text."""
    summary = load("seq2seq", built["seq2seq"])(Document(ARTICLE, "en"), Budget(words=20))
    assert summary.text == SUMMARY
    gen = Generator.load(built["causal"])
    assert gen.generate("the", temperature=0, max_new_tokens=20) == GENERATED


# -- graphs onnxruntime refuses -----------------------------------------------------------
def _external(folder: Path, name: str, location: str) -> None:
    """Move the graph's table into external data at ``location`` (relative to the folder)."""
    model = onnx.load(str(folder / name))
    tensor = model.graph.initializer[0]
    data = numpy_helper.to_array(tensor)
    target = (folder / location)
    if location != "missing.bin":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.tobytes())
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(data.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(folder / name))


BREAKAGES = {
    "random-bytes": (lambda f, g: (f / g).write_bytes(np.random.default_rng(1).bytes(4096)),
                     "is not an ONNX graph", REEXPORT),
    "empty": (lambda f, g: (f / g).write_bytes(b""), "is empty (0 bytes)", REEXPORT),
    "cut-in-half": (lambda f, g: (f / g).write_bytes((f / g).read_bytes()[:300]),
                    "onnxruntime", REEXPORT),
    "data-outside-the-folder": (lambda f, g: _external(f, g, "../outside/table.bin"),
                                "its weights point outside the model folder",
                                "Keep the .onnx file and its external data files together"),
    "another-graph": (lambda f, g: save_graph(
        f / g, [helper.make_node("Gather", ["emb", "input_ids"], ["hidden"])], ["input_ids"],
        "hidden", 4, {"emb": np.zeros((300, 4), dtype=np.float32)}),
        "is not the graph this file name stands for: it lacks logits", REEXPORT),
    "data-missing": (lambda f, g: _external(f, g, "missing.bin"),
                     "a file of its weights is missing", "Copy the graph's data files"),
}


@pytest.mark.parametrize("kind", ["seq2seq", "causal"])
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_graphs_onnxruntime_refuses_name_the_file_and_the_fix(copy_of, kind, breakage):
    folder = copy_of(kind)
    graph = folder / GRAPH[kind]
    damage, problem, fix = BREAKAGES[breakage]
    damage(folder, GRAPH[kind])
    with pytest.raises(ModelFileError) as info:
        load(kind, folder)
    error = info.value
    assert type(error) is ModelFileError and isinstance(error, CondenseError)
    assert error.path == str(graph) and str(error).startswith(f"{graph}: ")
    assert problem in error.problem and fix in error.fix and error.fix in str(error)
    assert "\n" not in str(error)  # one line: the Ray engine reports a worker's last line


def test_generator_reports_a_refused_graph_as_a_generation_error(copy_of):
    folder = copy_of("causal")
    (folder / "model.onnx").write_bytes(b"")
    with pytest.raises(GenerationError, match=r"model\.onnx: is empty \(0 bytes\)\. Export the"):
        Generator.load(folder)


# -- JSON files that do not parse ------------------------------------------------------
def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


JSON_BREAKAGES = {
    "tokenizer-cut-in-half": ("tokenizer.json", _cut_in_half, TokenizerError,
                              "is not a tokenizer the tokenizers library can read",
                              "tokenizer.json again"),
    "tokenizer-missing": ("tokenizer.json", lambda p: p.unlink(), TokenizerError,
                          "no tokenizer.json", REEXPORT),
    "config-200000-deep": ("config.json", lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
                           ModelFileError, "nested too deeply", REEXPORT),
    "config-cut-in-half": ("config.json", _cut_in_half, ModelFileError, "is not valid JSON",
                           REEXPORT),
    "generation-config-a-list": ("generation_config.json", lambda p: p.write_text("[1, 2]"),
                                 ModelFileError, "holds a JSON list, not an object", REEXPORT),
    "generation-config-not-utf8": ("generation_config.json", lambda p: p.write_bytes(b"\xff\xfe{}"),
                                   ModelFileError, "is not UTF-8 text", REEXPORT),
}


@pytest.mark.parametrize("kind", ["seq2seq", "causal"])
@pytest.mark.parametrize("case", sorted(JSON_BREAKAGES))
def test_json_files_that_do_not_parse_name_the_file_and_the_fix(copy_of, kind, case):
    name, damage, error_type, problem, fix = JSON_BREAKAGES[case]
    folder = copy_of(kind)
    damage(folder / name)
    with pytest.raises(ModelFileError) as info:
        load(kind, folder)
    error = info.value
    assert type(error) is error_type
    at_fault = folder if case == "tokenizer-missing" else folder / name  # the folder lacks it
    assert error.path == str(at_fault) and str(error).startswith(f"{at_fault}: ")
    assert problem in error.problem and fix in error.fix


# -- settings out of range -----------------------------------------------------------------
BAD_SETTINGS = [
    ("num_beams", 0), ("num_beams", -2), ("num_beams", "4"), ("num_beams", True),
    ("num_beams", 2.5), ("max_length", -5), ("max_new_tokens", 0), ("min_new_tokens", -1),
    ("min_length", "long"), ("no_repeat_ngram_size", -3), ("repetition_penalty", 0),
    ("repetition_penalty", float("nan")), ("length_penalty", "big"),
    ("early_stopping", "sometimes"), ("decoder_start_token_id", 10**6),
    ("pad_token_id", "zero"), ("eos_token_id", [0, -4]), ("forced_bos_token_id", 1.5),
]


@pytest.mark.parametrize("key,value", BAD_SETTINGS, ids=lambda v: repr(v))
def test_settings_that_cannot_be_used_name_the_file_and_the_setting(copy_of, key, value):
    folder = copy_of("seq2seq")
    path = folder / "generation_config.json"
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data))  # json writes NaN as NaN, which Python reads back
    with pytest.raises(ModelFileError) as info:
        load("seq2seq", folder)
    error = info.value
    assert type(error) is ModelFileError
    assert error.path == str(path)
    assert error.problem.startswith(f"{key} is {value!r}; it must be ")
    assert error.fix == f"Correct {key} in it, or remove it to use the default"


@pytest.mark.parametrize("content,problem", [
    ("[" * 200_000 + "]" * 200_000, "maximum recursion depth exceeded"),
    ('{"format": "condense-summary-prompt", "format_version": 2, "prefix": "", "suffix": "",'
     ' "max_source_tokens": 512, "max_target_tokens": 64, "repeat_retries": 1000000000}',
     "repeat_retries 1000000000 is outside 0..64"),
    ('{"format": "condense-summary-prompt", "format_version": 2, "prefix": "", "suffix": "",'
     ' "max_source_tokens": -1, "max_target_tokens": 64}', "max_source_tokens -1 is outside"),
])
def test_a_broken_summary_prompt_names_the_file(copy_of, content, problem):
    """A decoder-only summarizer's condense_summary.json: nested too deep, or numbers no
    training writes (a billion retries would never end)."""
    folder = copy_of("causal")
    (folder / "condense_summary.json").write_text(content)
    with pytest.raises(ModelFileError) as info:
        get_summarizer("abstractive", abstractive=AbstractiveConfig(model_dir=str(folder)))
    assert info.value.path == str(folder / "condense_summary.json")
    assert info.value.problem.startswith("unreadable summary prompt format (")
    assert problem in info.value.problem and "python -m training lm-summary" in info.value.fix


def test_a_seq2seq_folder_without_a_decoder_start_is_refused_at_load(copy_of):
    folder = copy_of("seq2seq")
    for name in ("config.json", "generation_config.json"):
        data = json.loads((folder / name).read_text())
        del data["decoder_start_token_id"]
        write_json(folder / name, data)
    with pytest.raises(ModelFileError) as info:
        load("seq2seq", folder)
    assert str(info.value) == (f"{folder / 'generation_config.json'}: has no decoder_start_token_id. "
                               "Add it (the checkpoint's config.json names it), or export the "
                               "model again")


def test_repeat_retries_with_a_penalty_is_refused(copy_of):
    folder = copy_of("seq2seq")
    write_json(folder / "generation_config.json",
               {"decoder_start_token_id": EOS, "repeat_retries": 2, "repetition_penalty": 1.2})
    with pytest.raises(ModelFileError, match="repeat_retries does not combine"):
        read_generation_config(folder)


def test_a_million_beams_are_lowered_to_the_cap_with_a_note(copy_of):
    """Was 15 s and 5.3 GB before onnxruntime failed; now 16 beams and a note saying so."""
    folder = copy_of("seq2seq")
    limits = DecodingLimits()
    write_json(folder / "generation_config.json", {
        "decoder_start_token_id": EOS, "eos_token_id": EOS, "num_beams": 1_000_000,
        "max_new_tokens": 10**9, "min_length": 10**12, "no_repeat_ngram_size": 10**6})
    config, notes = read_generation_config(folder)
    got = (config.num_beams, config.max_new_tokens, config.min_length, config.no_repeat_ngram_size)
    assert got == (limits.max_beams, limits.max_tokens, limits.max_tokens, limits.max_ngram)
    assert got == (16, 32_768, 32_768, 64)
    assert notes[0] == ("generation_config.json asks for num_beams 1,000,000; using 16, the most "
                        "Condense allows (DecodingLimits.max_beams)")
    assert len(notes) == 4 and "max_new_tokens 1,000,000,000; using 32,768" in notes[1]
    write_json(folder / "generation_config.json",
               {"decoder_start_token_id": EOS, "eos_token_id": EOS, "num_beams": 1_000_000})
    started = time.monotonic()
    summary = load("seq2seq", folder)(Document(ARTICLE, "en"), Budget(words=20))
    assert time.monotonic() - started < 30
    assert summary.text == SUMMARY
    assert notes[0] in summary.notes  # the user is told


def test_settings_given_by_the_caller_are_checked_too():
    with pytest.raises(CondenseError, match="num_beams must be from 1 to 16"):
        AbstractiveConfig(model_dir="m", num_beams=1_000_000)
    with pytest.raises(CondenseError, match="num_beams must be from 1 to 16"):
        AbstractiveConfig(model_dir="m", num_beams=0)
    with pytest.raises(GenerationError, match="num_beams must be from 1 to 16"):
        Decoding(num_beams=17, temperature=0)
    with pytest.raises(GenerationError, match=r"seed must be a whole number from 0 up, got -1"):
        Decoding(seed=-1)
    assert Decoding(seed=0).seed == 0 and Decoding(num_beams=16, temperature=0).num_beams == 16


# -- half characters -----------------------------------------------------------------------
def test_generated_text_never_ends_in_half_a_character(built):
    """Every token limit: the streamed pieces join to the final text, neither holds U+FFFD,
    the text is the longest whole-character prefix, and a note says when one was cut."""
    gen = Generator.load(built["causal"])
    ids = gen.tokenizer.encode(GENERATED).ids
    cuts = 0
    for n in range(1, len(ids) + 1):
        plain = gen.decode(ids[:n])  # what decoding the tokens gives, U+FFFD and all
        notes, stream_notes = [], []
        pieces = list(gen.stream("the", temperature=0, max_new_tokens=n, notes=stream_notes))
        text = gen.generate("the", temperature=0, max_new_tokens=n, notes=notes)
        assert "".join(pieces) == text == plain.rstrip(REPLACEMENT)
        assert REPLACEMENT not in text and not any(REPLACEMENT in p for p in pieces)
        assert GENERATED.startswith(text)
        cut = plain.endswith(REPLACEMENT)
        cuts += cut
        assert notes == stream_notes == ([INCOMPLETE_NOTE] if cut else [])
        batch_notes = []
        assert gen.generate_batch(["the", "the"], temperature=0, max_new_tokens=n,
                                  notes=batch_notes) == [text, text]
        both = [f"prompt 0: {INCOMPLETE_NOTE}", f"prompt 1: {INCOMPLETE_NOTE}"]
        assert batch_notes == (both if cut else [])
        beam_notes = []
        assert gen.generate("the", num_beams=2, max_new_tokens=n, notes=beam_notes) == text
        assert beam_notes == notes
    assert cuts == 4  # 北 and 京 can each be cut after their first or second byte


def test_text_stream_drops_an_unfinished_last_character():
    tok = byte_bpe()
    ids = tok.encode("a你").ids
    stream = TextStream(lambda xs: tok.decode(xs))
    pieces = [stream.push(t) for t in ids[:-1]] + [stream.finish()]
    assert "".join(pieces) == stream.text == "a" and stream.incomplete
    stream = TextStream(lambda xs: tok.decode(xs))
    pieces = [stream.push(t) for t in ids] + [stream.finish()]
    assert "".join(pieces) == stream.text == "a你" and not stream.incomplete


def test_summaries_never_end_in_half_a_character(built):
    codec = TextCodec.load(built["seq2seq"], pad_id=EOS)
    ids = codec.tokenizer.encode("budget 北京").ids
    assert codec.tokenizer.decode(ids[:-1]).endswith(REPLACEMENT)
    assert codec.decode(ids[:-1]) == "budget 北"


# -- command lines and the app ---------------------------------------------------------------
def test_summarize_and_batch_exit_2_with_the_file_and_the_fix(copy_of, tmp_path, capsys):
    folder = copy_of("seq2seq")
    (folder / "encoder_model.onnx").write_bytes(np.random.default_rng(2).bytes(1000))
    doc = tmp_path / "a.txt"
    doc.write_text(ARTICLE)
    summarize = ["summarize", str(doc), "--method", "abstractive", "--model", str(folder)]
    assert summarizer_main(summarize) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / 'encoder_model.onnx'}: is not an ONNX graph")
    assert REEXPORT in err and "Traceback" not in err
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(doc, docs / "a.txt")
    out = tmp_path / "out.jsonl"
    code = summarizer_main(["batch", str(docs), "--out", str(out), "--method", "abstractive",
                            "--model", str(folder), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {folder / 'encoder_model.onnx'}: ")
    assert not out.exists()


def test_summarize_cli_notes_the_lowered_beams(copy_of, tmp_path, capsys):
    folder = copy_of("seq2seq")
    write_json(folder / "generation_config.json",
               {"decoder_start_token_id": EOS, "eos_token_id": EOS, "num_beams": 1_000_000})
    doc = tmp_path / "a.txt"
    doc.write_text(ARTICLE)
    summarize = ["summarize", str(doc), "--method", "abstractive", "--model", str(folder)]
    assert summarizer_main(summarize) == 0
    out, err = capsys.readouterr()
    assert out.strip() == SUMMARY
    assert "note: generation_config.json asks for num_beams 1,000,000; using 16" in err


def test_generation_cli_exits_2_for_a_broken_folder(copy_of, capsys):
    folder = copy_of("causal")
    _cut_in_half(folder / "tokenizer.json")
    code = generation_main(["generate", "--model", str(folder), "--prompt", "the", "--raw"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {folder / 'tokenizer.json'}: is not a tokenizer")
    assert "tokenizer.json again" in err


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "generation", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_generation_cli_seed_and_half_characters(built):
    """Through ``python -m``: a negative seed is an argument error (exit 2), and a token
    limit inside 北 prints the text without it, and a note."""
    res = _cli("generate", "--model", built["causal"], "--prompt", "the", "--raw", "--seed", "-1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: seed must be a whole number from 0 up, got -1")
    for stream in ([], ["--stream"]):
        res = _cli("generate", "--model", built["causal"], "--prompt", "the", "--raw",
                   "--temperature", "0", "--max-new-tokens", "4", *stream)
        assert res.returncode == 0, res.stderr
        assert res.stdout == "ok \n"  # "ok", " " and the first byte of 北
        assert f"note: {INCOMPLETE_NOTE}" in res.stderr


def test_app_shows_the_message_not_a_traceback(copy_of):
    from streamlit.testing.v1 import AppTest

    from ui.settings import AppSettings

    folder = copy_of("seq2seq")
    _cut_in_half(folder / "tokenizer.json")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["settings"] = AppSettings(abstractive_dir=str(folder))
    at.run()
    at.radio(key="sum.choice").set_value("abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception
    message = at.error[0].value
    assert message.startswith(f"{folder / 'tokenizer.json'}: is not a tokenizer")
    assert "tokenizer.json again" in message and "Check the folder in Settings" in message


def test_the_generate_page_shows_the_message(copy_of):
    from streamlit.testing.v1 import AppTest

    from ui.settings import AppSettings

    folder = copy_of("causal")
    write_json(folder / "generation_config.json", {"eos_token_id": EOS, "num_beams": "many"})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["settings"] = AppSettings(generator_dir=str(folder))
    at.run()
    at.switch_page("ui/pages/generate.py").run()
    assert not at.exception
    assert at.error[0].value.startswith(f"{folder / 'generation_config.json'}: num_beams is 'many'")


def test_missing_graphs_keep_their_types_and_are_condense_errors(tmp_path):
    with pytest.raises(ModelFolderError) as info:
        Seq2SeqOnnx.load(tmp_path)
    assert isinstance(info.value, CondenseError) and info.value.path == str(tmp_path)
    with pytest.raises(CausalFolderError) as info:
        CausalOnnx.load(tmp_path)
    assert isinstance(info.value, ModelFileError) and REEXPORT in info.value.fix


def test_errors_cross_process_boundaries_whole():
    """Ray workers and process pools send errors pickled: each type and part survives
    (the default pickling called the class with the message alone and failed in Ray)."""
    for error in (ModelFileError("/m/model.onnx", "is empty (0 bytes)", "Export it again"),
                  TokenizerError("/m", "no tokenizer.json", "Export it again"),
                  ModelFolderError("/m", "not an exported seq2seq model", "Export it first")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert (back.path, back.problem, back.fix) == (error.path, error.problem, error.fix)


def test_a_bad_seed_is_refused_before_any_model_is_prepared(tmp_path, capsys, monkeypatch):
    import generation.__main__ as cli

    monkeypatch.setattr(cli, "ensure_model", lambda **kw: pytest.fail("a model was prepared"))
    assert cli.main(["generate", "--prompt", "hi", "--seed", "-1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: seed must be a whole number from 0 up, got -1: give another seed, or none for a fresh one")
