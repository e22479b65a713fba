"""Run logging: metrics.jsonl, optional TensorBoard, and the tqdm progress bar."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class MetricsWriter:
    """Appends one JSON object per logged step to `run_dir/metrics.jsonl` (and TensorBoard if installed)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = True, enabled: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                logger.info("tensorboard is not installed: metrics go to %s only", self.path)
            else:
                self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def truncate_after(self, step: int) -> None:
        """Drop lines past `step`: a resumed run rewrites what the killed run logged after its last
        checkpoint, including a last line cut short by the kill. Rewritten atomically."""
        if not (self.enabled and self.path.is_file()):
            return
        kept = [json.dumps(record) for record in _records(self.path.read_text()) if record.get("step", 0) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, "time": round(time.time(), 3), **{k: _finite(v) for k, v in metrics.items()}}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return _records(path.read_text())


def _records(text: str) -> list[dict[str, Any]]:
    """The JSON lines of a metrics log; an unreadable LAST line (a write cut by a kill) is left out."""
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1:
                raise
    return records


class ProgressBar:
    """tqdm over optimiser steps: shows it/s and ETA, plus the latest loss as postfix."""

    def __init__(self, total: int, initial: int, *, enabled: bool) -> None:
        self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=not enabled,
                         desc="train")

    def update(self, metrics: dict[str, float]) -> None:
        shown = {k.split("/")[-1]: f"{v:.4g}" for k, v in metrics.items() if k in ("loss/total", "loss/rec", "loss/disc")}
        if shown:
            self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
