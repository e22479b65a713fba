"""Report writers: JSON (NaN-safe), resumable JSONL, summaries and Markdown tables."""

from __future__ import annotations

import json
import math

import pytest
import torch

from reducio.eval.report import (
    JsonlWriter,
    ReportError,
    markdown_table,
    read_jsonl,
    summarise,
    summary_table,
    write_json,
    write_markdown,
)


def test_write_json_turns_nan_and_tensors_into_plain_json(tmp_path):
    path = write_json(tmp_path / "a" / "s.json", {"x": float("nan"), "t": torch.tensor(2.5), "n": [1, (2, 3)]})
    assert json.loads(path.read_text()) == {"x": None, "t": 2.5, "n": [1, [2, 3]]}


def test_jsonl_appends_and_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    writer = JsonlWriter(path)
    writer.write({"id": "a", "psnr": 30.0})
    writer.write({"id": "b", "psnr": 31.0})
    with path.open("a") as handle:
        handle.write('{"id": "c", "ps')  # a run killed mid-write
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    JsonlWriter(path).write({"id": "c", "psnr": 32.0})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]
    assert read_jsonl(tmp_path / "absent.jsonl") == []


def test_a_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 2}\n')
    with pytest.raises(ReportError, match="line 2"):
        read_jsonl(path)


def test_summarise_and_tables():
    records = [{"psnr": 30.0, "ssim": 0.9, "ok": True}, {"psnr": 32.0, "ssim": None}, {"psnr": float("nan")}]
    summary = summarise(records, ["psnr", "ssim", "ok", "lpips"])
    assert summary["psnr"]["mean"] == 31.0 and summary["psnr"]["count"] == 2
    assert summary["psnr"]["std"] == pytest.approx(math.sqrt(2))
    assert summary["ssim"] == {"mean": 0.9, "std": 0.0, "min": 0.9, "max": 0.9, "count": 1}
    assert "ok" not in summary and "lpips" not in summary  # booleans and absent metrics skipped
    table = summary_table(summary, digits=2)
    assert table.splitlines()[0] == "| metric | mean | std | min | max | count |"
    assert "| psnr | 31.00 | 1.41 | 30.00 | 32.00 | 2 |" in table
    rows = markdown_table([{"a": True, "b": None, "c": "x|y"}])
    assert rows.splitlines()[2] == "| yes | n/a | x\\|y |"


def test_write_markdown(tmp_path):
    path = write_markdown(tmp_path / "r.md", "Title", [("One", "body"), ("Two", "| a |\n")])
    assert path.read_text() == "# Title\n\n## One\n\nbody\n\n## Two\n\n| a |\n"
