"""Result files and tables: one JSON per benchmark run, one markdown table per comparison."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Sequence

# An editable install resolves to the repository's benchmarks/results; anywhere else the CLI
# writes under the working directory.
_REPO_RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"
SCHEMA_VERSION = 1


def default_output(benchmark: str, env: dict, tag: str = "") -> Path:
    """benchmarks/results/<benchmark>-<device kind>[-tag]-<YYYYmmdd-HHMMSS>.json (in the
    repository of an editable install, else under the working directory)."""
    kind = "gpu" if env.get("gpu") else "cpu"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "-".join(p for p in (benchmark, kind, tag, stamp) if p)
    root = _REPO_RESULTS if _REPO_RESULTS.parent.is_dir() else Path("benchmarks") / "results"
    return root / f"{name}.json"


def write_json(path: str | Path, record: dict) -> Path:
    """Write `record` (plus schema version) as indented JSON; creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, **record}, indent=2,
                               default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(value: Any, digits: int = 3) -> str:
    """Human formatting for table cells: None -> 'n/a', floats to `digits` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0:
            return "0"
        magnitude = math.floor(math.log10(abs(value)))
        if magnitude >= digits:
            return f"{value:,.0f}"
        return f"{value:.{max(digits - 1 - magnitude, 0)}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells go through `fmt`; numeric columns are right-aligned."""
    cells = [[fmt(c) for c in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(
            it.rjust(w) if num else it.ljust(w) for it, w, num in zip(items, widths, numeric)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                         for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])
