"""Evaluation reports: per-sample JSONL (append-only, resumable), aggregate JSON, Markdown tables."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reducio.errors import ReducioError


class ReportError(ReducioError):
    """A report file cannot be read or written."""


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # 0-d torch / numpy values
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN / inf
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as indented JSON (NaN / inf become null); returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    except OSError as error:
        raise ReportError(f"cannot write {path}: {error}") from error
    return path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; [] when it does not exist. A torn last line (a killed run) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break  # interrupted while writing the last record: it is redone on resume
            raise ReportError(f"{path}: line {number} is not JSON ({error}); fix or delete the file") from error
    return records


class JsonlWriter:
    """Append records to a JSONL file one line at a time (flushed), so a killed run can resume."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = self.path.read_text() if self.path.exists() else ""
        # Drop a torn last line before appending.
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
            self.path.write_text(text)

    def write(self, record: Mapping[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(_jsonable(record)) + "\n")
            handle.flush()


def summarise(records: Iterable[Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation, min, max and count of each numeric metric over records."""
    records = list(records)
    out = {}
    for name in metrics:
        raw = [r.get(name) for r in records]
        values = [float(v) for v in raw if isinstance(v, (int, float)) and not isinstance(v, bool)]
        values = [v for v in values if math.isfinite(v)]
        if not values:
            continue
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        out[name] = {"mean": mean, "std": math.sqrt(var), "min": min(values), "max": max(values), "count": len(values)}
    return out


def _format(value: Any, digits: int) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 4) -> str:
    """A GitHub Markdown table of rows (dicts); columns default to the keys of the first row."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format(row.get(c), digits) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: str | Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write a Markdown report: a title and (heading, body) sections."""
    text = f"# {title}\n"
    for heading, body in sections:
        text += f"\n## {heading}\n\n{body}"
        if not body.endswith("\n"):
            text += "\n"
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as error:
        raise ReportError(f"cannot write {path}: {error}") from error
    return path


def summary_table(summary: Mapping[str, Mapping[str, float]], digits: int = 4) -> str:
    """Markdown table of a `summarise` result: one row per metric."""
    rows = [{"metric": name, **stats} for name, stats in summary.items()]
    return markdown_table(rows, ["metric", "mean", "std", "min", "max", "count"], digits)
