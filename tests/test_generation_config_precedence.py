"""Where a model folder's generation settings come from, as transformers takes them.

transformers loads ``generation_config.json`` alone when the folder has one; only without
it are the settings made from ``config.json`` (``GenerationConfig.from_model_config``).
Condense once laid the file over ``config.json``'s token ids, so a BART ``config.json``'s
``forced_eos_token_id`` ended a summary with the end token where ``generate`` wrote a last
ordinary token (issue 19, item 4). Here: the rule on hand-written files, our reader against
the ``generation_config`` transformers loads for the same folder, and the summarize
command's text against ``generate``'s on a tiny exported BART with min = max new tokens.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM

from export import ExportConfig, export_onnx
from runtime.config import read_generation_config
from summarizer.abstractive.seq2seq import (AbstractiveConfig, AbstractiveSummarizer,
                                            load_model, sentence_lines)
from summarizer.types import Budget, Document
from tests.parity import generate_ours
from tests.tiny_models import CORPUS, make_tiny_seq2seq, sharpen, special_ids

ROOT = Path(__file__).resolve().parents[1]
IDS = special_ids("bart")  # bos 0, pad 1, eos 2
NEW = 8  # min_new_tokens = max_new_tokens in the folder's generation_config.json
TEXT = CORPUS[0]

# The settings compared with transformers' GenerationConfig (ours-only ones left out).
COMPARED = ("max_length", "max_new_tokens", "min_length", "min_new_tokens", "num_beams",
            "length_penalty", "early_stopping", "no_repeat_ngram_size", "repetition_penalty",
            "do_sample", "temperature", "top_k", "top_p", "forced_bos_token_id",
            "forced_eos_token_id", "eos_token_id", "pad_token_id", "bos_token_id",
            "decoder_start_token_id")


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def ours(folder: Path) -> dict:
    config = read_generation_config(folder)[0]
    return {name: getattr(config, name) for name in COMPARED}


def theirs(folder: Path) -> dict:
    """The generation config transformers loads with the model in ``folder``, in our terms
    (no end token: (); no min_new_tokens: 0)."""
    hf = AutoModelForSeq2SeqLM.from_pretrained(folder).generation_config
    out = {name: getattr(hf, name) for name in COMPARED}
    eos = out["eos_token_id"]
    out["eos_token_id"] = () if eos is None else tuple(eos) if isinstance(eos, list) else (eos,)
    out["min_new_tokens"] = out["min_new_tokens"] or 0
    return out


# ---- the rule on hand-written files -----------------------------------------------------

MODEL_CONFIG = {"vocab_size": 50, "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2,
                "decoder_start_token_id": 2, "forced_bos_token_id": 0, "forced_eos_token_id": 2,
                "num_beams": 4, "max_length": 142, "min_length": 56, "length_penalty": 2.0,
                "no_repeat_ngram_size": 3, "early_stopping": True}


def test_with_both_files_generation_config_json_alone_decides(tmp_path):
    write_json(tmp_path / "config.json", MODEL_CONFIG)
    write_json(tmp_path / "generation_config.json",
               {"eos_token_id": 2, "pad_token_id": 1, "min_new_tokens": NEW, "max_new_tokens": NEW})
    config, notes = read_generation_config(tmp_path)
    assert notes == ()
    assert (config.min_new_tokens, config.max_new_tokens) == (NEW, NEW)
    assert config.eos_token_id == (2,) and config.pad_token_id == 1
    # nothing of config.json's: neither its token ids nor its decoding settings
    assert config.forced_eos_token_id is None and config.forced_bos_token_id is None
    assert config.decoder_start_token_id is None and config.bos_token_id is None
    assert (config.num_beams, config.max_length, config.min_length) == (1, 20, 0)
    penalties = (config.length_penalty, config.no_repeat_ngram_size, config.early_stopping)
    assert penalties == (1.0, 0, False)


def test_an_empty_generation_config_json_still_wins(tmp_path):
    write_json(tmp_path / "config.json", MODEL_CONFIG)
    write_json(tmp_path / "generation_config.json", {})
    config = read_generation_config(tmp_path)[0]
    assert config.eos_token_id == () and config.forced_eos_token_id is None
    assert config.num_beams == 1 and config.decoder_start_token_id is None


def test_with_only_config_json_its_generation_settings_apply(tmp_path):
    write_json(tmp_path / "config.json", {**MODEL_CONFIG, "stop_repeat_ngram_size": 4})
    config, notes = read_generation_config(tmp_path)
    assert notes == ()
    assert (config.bos_token_id, config.pad_token_id, config.eos_token_id) == (0, 1, (2,))
    assert (config.decoder_start_token_id, config.forced_bos_token_id,
            config.forced_eos_token_id) == (2, 0, 2)
    assert (config.num_beams, config.max_length, config.min_length) == (4, 142, 56)
    penalties = (config.length_penalty, config.no_repeat_ngram_size, config.early_stopping)
    assert penalties == (2.0, 3, True)
    assert config.stop_repeat_ngram_size == 0  # ours, never a transformers setting


def test_with_only_config_json_a_decoder_part_fills_what_the_top_level_leaves_unset(tmp_path):
    write_json(tmp_path / "config.json", {
        "vocab_size": 50, "decoder_start_token_id": 3, "eos_token_id": 4, "num_beams": 1,
        "decoder": {"eos_token_id": 9, "pad_token_id": 0, "num_beams": 2, "max_length": 30}})
    config = read_generation_config(tmp_path)[0]
    assert config.decoder_start_token_id == 3 and config.eos_token_id == (4,)  # top level set
    assert config.pad_token_id == 0 and config.max_length == 30
    assert config.num_beams == 2  # 1 is transformers' default, so the decoder's counts


def test_with_only_generation_config_json(tmp_path):
    write_json(tmp_path / "generation_config.json",
               {"decoder_start_token_id": 2, "eos_token_id": [2, 3], "num_beams": 2})
    config = read_generation_config(tmp_path)[0]
    assert (config.decoder_start_token_id, config.eos_token_id, config.num_beams) == (2, (2, 3), 2)
    assert config.forced_eos_token_id is None


def test_the_checks_name_the_file_the_setting_came_from(tmp_path):
    from runtime.errors import ModelFileError

    write_json(tmp_path / "config.json", {**MODEL_CONFIG, "num_beams": "many"})
    with pytest.raises(ModelFileError, match="num_beams is 'many'") as info:
        read_generation_config(tmp_path)
    assert info.value.path == str(tmp_path / "config.json")
    write_json(tmp_path / "generation_config.json",
               {"num_beams": 10**6, "decoder_start_token_id": 99})
    with pytest.raises(ModelFileError, match="below the vocabulary size 50") as info:
        read_generation_config(tmp_path)  # config.json still bounds the ids, not its settings
    assert info.value.path == str(tmp_path / "generation_config.json")
    write_json(tmp_path / "generation_config.json", {"num_beams": 10**6})
    assert read_generation_config(tmp_path)[1] == (
        "generation_config.json asks for num_beams 1,000,000; using 16, the most Condense "
        "allows (DecodingLimits.max_beams)",)


# ---- against the generation config transformers loads ------------------------------------

@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    """A tiny BART checkpoint whose generation_config.json asks for exactly NEW tokens and
    names no forced_eos_token_id, while its config.json does (BartConfig's default)."""
    ckpt = sharpen(make_tiny_seq2seq("bart", tmp_path_factory.mktemp("precedence") / "ckpt"),
                   AutoModelForSeq2SeqLM)
    write_json(ckpt / "generation_config.json", {
        "bos_token_id": IDS["bos"], "eos_token_id": IDS["eos"], "pad_token_id": IDS["pad"],
        "decoder_start_token_id": IDS["eos"], "min_new_tokens": NEW, "max_new_tokens": NEW})
    assert json.loads((ckpt / "config.json").read_text())["forced_eos_token_id"] == IDS["eos"]
    return ckpt


def edited(ckpt: Path, where: Path, *, config: Optional[dict] = None,
           generation=None) -> Path:
    """A copy of ``ckpt`` with config.json updated by ``config`` and generation_config.json
    replaced by ``generation`` (False: removed)."""
    shutil.copytree(ckpt, where)
    if config:
        data = json.loads((where / "config.json").read_text())
        write_json(where / "config.json", {**data, **config})
    if generation is False:
        (where / "generation_config.json").unlink()
    elif generation is not None:
        write_json(where / "generation_config.json", generation)
    return where


LEGACY = {"num_beams": 3, "max_length": 30, "min_length": 5, "no_repeat_ngram_size": 2,
          "length_penalty": 2.0, "forced_bos_token_id": IDS["bos"]}


@pytest.mark.parametrize("case", ["both", "both-without-start", "only-config"])
def test_our_reader_takes_what_transformers_loads(bart, tmp_path, case):
    generation = {"both": None, "only-config": False,
                  "both-without-start": {"bos_token_id": IDS["bos"], "eos_token_id": IDS["eos"]}}
    folder = edited(bart, tmp_path / case, config=LEGACY, generation=generation[case])
    got, expected = ours(folder), theirs(folder)
    assert got == expected
    picked = (got["num_beams"], got["max_length"], got["forced_eos_token_id"])
    assert picked == ((3, 30, IDS["eos"]) if case == "only-config" else (1, 20, None))


def test_encoder_decoder_config_json_with_a_decoder_part(tmp_path):
    """BERT2BERT keeps its decoder's config under "decoder"; without generation_config.json
    transformers fills the settings the top level leaves at their defaults from it."""
    ckpt = make_tiny_seq2seq("encoder-decoder", tmp_path / "ckpt")
    data = json.loads((ckpt / "config.json").read_text())
    data["decoder"].update(num_beams=2, max_length=24, no_repeat_ngram_size=3)
    data.update(length_penalty=1.5)
    write_json(ckpt / "config.json", data)
    (ckpt / "generation_config.json").unlink()
    got = ours(ckpt)
    assert got == theirs(ckpt)
    assert (got["num_beams"], got["max_length"], got["no_repeat_ngram_size"],
            got["length_penalty"]) == (2, 24, 3, 1.5)


# ---- the summarize command against generate ---------------------------------------------

@pytest.fixture(scope="module")
def exported(bart, tmp_path_factory):
    folder = export_onnx(str(bart), out=tmp_path_factory.mktemp("precedence-onnx") / "onnx",
                         config=ExportConfig(validate=False)).folder
    # the folder of the issue: config.json names forced_eos_token_id, the other file not
    assert json.loads((folder / "config.json").read_text())["forced_eos_token_id"] == IDS["eos"]
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation.get("forced_eos_token_id") is None
    assert (generation["min_new_tokens"], generation["max_new_tokens"]) == (NEW, NEW)
    return folder


def transformers_ids(ckpt: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``generate`` with the checkpoint's own generation config (nothing passed)."""
    model = AutoModelForSeq2SeqLM.from_pretrained(ckpt).eval()
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
    return out.numpy()


def test_summarize_command_text_equals_transformers_generate(bart, exported, tmp_path):
    _, codec = load_model(str(exported))
    ids, mask = codec.encode_batch([TEXT])  # the encoder input the summarizer builds
    expected = transformers_ids(bart, ids, mask)
    # NEW ordinary tokens after the start token: no end token forced at the last position
    assert expected.shape == (1, 1 + NEW) and IDS["eos"] not in expected[0, 1:].tolist()
    np.testing.assert_array_equal(generate_ours(exported, ids, mask), expected)  # runtime API

    text = sentence_lines(codec.decode(expected[0, 1:].tolist()), "en")
    doc = tmp_path / "doc.txt"
    doc.write_text(TEXT, encoding="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(doc), "--method", "abstractive",
         "--model", str(exported), "--num-beams", "1", "--max-new-tokens", str(NEW)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == text.strip()


def test_without_decoder_start_the_summarizer_starts_from_bos_as_generate_does(bart, exported,
                                                                                tmp_path):
    """generation_config.json names bos_token_id but no decoder_start_token_id, config.json
    names 2: transformers starts the decoder from bos (0), and so does the summarizer."""
    generation = {"bos_token_id": IDS["bos"], "eos_token_id": IDS["eos"],
                  "pad_token_id": IDS["pad"], "min_new_tokens": NEW, "max_new_tokens": NEW}
    ckpt = edited(bart, tmp_path / "ckpt", generation=generation)
    folder = edited(exported, tmp_path / "onnx", generation=generation)
    summarizer = AbstractiveSummarizer(AbstractiveConfig(model_dir=str(folder), num_beams=1,
                                                         max_new_tokens=NEW))
    ids, mask = summarizer.codec.encode_batch([TEXT])
    expected = transformers_ids(ckpt, ids, mask)
    assert expected[0, 0] == IDS["bos"]
    summary = summarizer(Document(TEXT, "en"), Budget(ratio=0.2))
    assert summary.text == sentence_lines(summarizer.codec.decode(expected[0, 1:].tolist()), "en")


def test_the_export_keeps_a_missing_decoder_start_missing(bart, tmp_path):
    """The export writes the checkpoint's generation config as transformers loads it: a
    decoder_start_token_id missing there is not borrowed from config.json (2), so the
    exported folder starts from bos (0) as ``generate`` on the checkpoint does."""
    generation = {"bos_token_id": IDS["bos"], "eos_token_id": IDS["eos"],
                  "pad_token_id": IDS["pad"], "min_new_tokens": NEW, "max_new_tokens": NEW}
    ckpt = edited(bart, tmp_path / "ckpt", generation=generation)
    folder = export_onnx(str(ckpt), out=tmp_path / "onnx", config=ExportConfig(validate=False)).folder
    written = json.loads((folder / "generation_config.json").read_text())
    assert written.get("decoder_start_token_id") is None and written["bos_token_id"] == IDS["bos"]
    _, codec = load_model(str(folder))
    ids, mask = codec.encode_batch([TEXT])
    expected = transformers_ids(ckpt, ids, mask)
    assert expected[0, 0] == IDS["bos"]
    np.testing.assert_array_equal(generate_ours(folder, ids, mask), expected)
