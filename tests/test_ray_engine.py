"""Ray engine: the local engine's records (ids, summaries, errors, order), on a local Ray
instance with 2 CPUs. Skipped when Ray is not installed (requirements-ray.txt)."""
import csv
import io
import json
import sys

import pytest

from summarizer.__main__ import main
from summarizer.batch.engine import (
    BatchConfig, journal_path, read_records, run_batch, settings_key, task_digest)
from summarizer.types import Budget

ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads. "
    "The mayor promised a second vote on roads next month."
)
OTHER = (
    "Rain fell across the north for a third day. Rivers rose above their banks in two towns. "
    "The rain is expected to ease by Friday. Farmers said the rain came too late for wheat."
)
CONFIG = BatchConfig(method="textrank", budget=Budget(sentences=2), workers=1, progress=False)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray's own


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    from summarizer.batch.ray_engine import connect

    started = connect(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def _both(source, tmp_path, suffix):
    """Run both engines on ``source``; their outputs' bytes and the Ray run's stats."""
    from summarizer.batch.ray_engine import RayConfig, run_batch_ray

    local, on_ray = tmp_path / f"local{suffix}", tmp_path / f"ray{suffix}"
    run_batch(source, local, CONFIG)
    stats = run_batch_ray(source, on_ray, CONFIG, RayConfig(workers=2, batch_size=2))
    assert not journal_path(on_ray).exists()
    return local.read_bytes(), on_ray.read_bytes(), stats


def _folder(tmp_path):
    src = tmp_path / "docs"
    (src / "sub").mkdir(parents=True)
    for i in range(4):
        (src / f"n{i}.txt").write_text((ARTICLE, OTHER)[i % 2] + f" Note {i} ends it.")
    (src / "sub" / "b.md").write_text("# Title\n\n" + OTHER)
    (src / "bad.txt").write_bytes(b"\x00\x01\x02\x03" * 50)  # binary: an error record
    (src / "skip.xyz").write_text("not a supported type")
    outside = tmp_path / "outside.txt"
    outside.write_text(ARTICLE)
    (src / "escape.txt").symlink_to(outside)  # out of the folder: an error record
    return src


def test_folder_same_records_as_local_engine(ray_instance, tmp_path):
    local, on_ray, stats = _both(_folder(tmp_path), tmp_path, ".jsonl")
    assert on_ray == local
    recs = [json.loads(line) for line in on_ray.decode().splitlines()]
    assert [r["id"] for r in recs] == [
        "bad.txt", "escape.txt", "n0.txt", "n1.txt", "n2.txt", "n3.txt", "sub/b.md"]
    by_id = {r["id"]: r for r in recs}
    assert "binary" in by_id["bad.txt"]["error"] and by_id["bad.txt"]["summary"] is None
    assert "outside the input folder" in by_id["escape.txt"]["error"]
    assert by_id["n0.txt"]["summary"].count("\n") == 1 and by_id["n0.txt"]["method"] == "textrank"
    assert (stats.total, stats.summarized, stats.failed, stats.skipped) == (7, 5, 2, 0)


def test_jsonl_with_bad_records_same_csv_as_local_engine(ray_instance, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"x{i}", "article": (ARTICLE, OTHER)[i % 2]}) for i in range(5)]
    lines[2] = "{not json"
    lines.append(json.dumps({"id": "no-article"}))
    lines.append(json.dumps({"article": OTHER}))  # no id: line-7
    src.write_text("\n".join(lines) + "\n")
    local, on_ray, stats = _both(src, tmp_path, ".csv")
    assert on_ray == local
    rows = list(csv.DictReader(io.StringIO(on_ray.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["x0", "x1", "line-3", "x3", "x4", "no-article", "line-7"]
    assert "line 3 is not valid JSON" in rows[2]["error"] and rows[0]["error"] == ""
    assert (stats.summarized, stats.failed) == (5, 2)


def test_parquet_in_and_out_same_as_local_engine(ray_instance, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    articles = [ARTICLE, None, OTHER, ARTICLE + " A last line.", OTHER]
    pq.write_table(pa.table({"id": [10, 11, 12, 13, 14], "article": articles}), src, row_group_size=2)
    local, on_ray, stats = _both(src, tmp_path, ".parquet")
    rows = pq.read_table(tmp_path / "ray.parquet").to_pylist()
    assert rows == pq.read_table(tmp_path / "local.parquet").to_pylist()
    assert [r["id"] for r in rows] == ["10", "11", "12", "13", "14"]
    assert "no 'article' text" in rows[1]["error"] and rows[0]["error"] is None
    assert (stats.summarized, stats.failed) == (4, 1)


def test_cli_ray_engine_resumes_from_the_journal(ray_instance, tmp_path, capsys):
    src = _folder(tmp_path)
    out = tmp_path / "out.jsonl"
    journal_path(out).write_text(json.dumps(
        {"id": "n0.txt", "summary": "FROM EARLIER RUN", "method": "textrank", "error": None,
         "settings": settings_key(CONFIG),
         "input_sha256": task_digest(("n0.txt", str(src / "n0.txt"), None, None))}) + "\n")
    argv = ["batch", str(src), "--out", str(out), "--engine", "ray", "--workers", "2",
            "--method", "textrank", "--sentences", "2", "--no-progress"]
    assert main(argv) == 0
    assert "7 documents: 4 summarized, 2 failed, 1 already done" in capsys.readouterr().err
    recs = read_records(out)
    assert recs["n0.txt"]["summary"] == "FROM EARLIER RUN"
    run_batch(src, tmp_path / "local.jsonl", CONFIG)
    assert {i: r for i, r in read_records(tmp_path / "local.jsonl").items() if i != "n0.txt"} == {
        i: r for i, r in recs.items() if i != "n0.txt"}


def test_a_summarizer_that_cannot_be_built_stops_the_run(ray_instance, tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(ARTICLE)
    (tmp_path / "empty-model").mkdir()
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tmp_path / "docs"), "--out", str(out), "--engine", "ray",
                 "--workers", "1", "--method", "abstractive", "--model", str(tmp_path / "empty-model"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"could not build the 'abstractive' summarizer: {tmp_path / 'empty-model'}: " in err
    # our line gives the message, not the worker's exception path (Ray logs that itself)
    assert [line for line in err.splitlines() if line.startswith("error: ") and "ModelFolderError" in line] == []
    assert "not an exported seq2seq model" in err and "python -m export onnx" in err
    assert not out.exists()


def test_ray_address_without_ray_engine_is_refused(tmp_path, capsys):
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o.jsonl"),
                 "--ray-address", "auto"]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


def test_missing_ray_names_the_requirements_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "a.txt").write_text(ARTICLE)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o.jsonl"), "--engine", "ray"]) == 2
    assert "pip install -r requirements-ray.txt" in capsys.readouterr().err
