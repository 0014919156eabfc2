"""The house rules of docs/ARCHITECTURE.md that code can check."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INFERENCE = ("summarizer", "generation", "runtime")
FORBIDDEN = ("torch", "transformers", "streamlit", "optimum", "training")


def test_inference_packages_import_no_torch_transformers_streamlit_or_training():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for pkg in INFERENCE for p in (ROOT / pkg).rglob("*.py") if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"inference path imported: {res.stdout}"
    assert "summarizer.methods.textrank" in modules


def test_no_package_imports_app_and_no_pickle():
    for pkg in ("summarizer", "generation", "runtime", "export", "training"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] not in ("app", "pickle"), f"{path} imports {name}"


def test_only_the_app_shell_and_ui_import_streamlit():
    for pkg in ("summarizer", "generation", "runtime", "export", "training"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                else:
                    continue
                assert all(n.split(".")[0] != "streamlit" for n in names), f"{path} imports streamlit"


def _imports_of(path: Path) -> set:
    """Our modules a file imports (absolute ``from X import`` / ``import X``, top level or not)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_the_import_diagram_of_architecture_md_holds_and_there_are_no_circles():
    """docs/ARCHITECTURE.md, "What may import what": each package imports only those below
    it (condense and training may reach everything they drive), and no two modules import
    each other, directly or round a longer circle."""
    allowed = {
        "runtime": set(), "summarizer": {"runtime"}, "generation": {"runtime", "summarizer"},
        "export": {"summarizer"}, "training": {"export", "summarizer", "runtime"},
        "ui": {"summarizer", "generation", "runtime"},
        "condense": {"summarizer", "generation", "export", "training", "runtime"},
    }
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for pkg in allowed for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for mod, path in modules.items():
        pkg = mod.split(".")[0]
        ours = {n for n in _imports_of(path) if n.split(".")[0] in allowed}
        for name in ours:
            assert name.split(".")[0] in allowed[pkg] | {pkg}, f"{mod} imports {name}"
        graph[mod] = {n for n in ours if n in modules and n != mod}
    # a circle: depth-first search for a back edge (packages' __init__ re-exports aside)
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for n in graph[m]:
            if state.get(n) == "open":
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_summarizing_a_text_file_loads_only_what_it_needs(tmp_path):
    """The cold start of `summarize FILE.txt` (bench/cli_start.py): no nltk (English stems are
    ours), no HTML or Markdown parser for a .txt, no torch, no sumy summarizer (only its
    stop-word file is read); they load when asked."""
    doc = tmp_path / "one.txt"
    doc.write_text("The council approved the budget. Teachers welcomed it. Critics did not.")
    code = ("import sys\n"
            "from summarizer.__main__ import main\n"
            f"main(['summarize', {str(doc)!r}, '--method', 'textrank', '--sentences', '1'])\n"
            "heavy = ('nltk', 'bs4', 'markdown_it', 'torch', 'transformers', 'onnxruntime')\n"
            "loaded = {m.split('.')[0] for m in sys.modules} & set(heavy)\n"
            "loaded |= {m for m in sys.modules if m.startswith('sumy.summarizers')}\n"
            "print(','.join(sorted(loaded)))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["The council approved the budget.", ""]
