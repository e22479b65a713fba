"""Timing with warm-up and repeats: wall (CUDA events on a GPU) and process CPU seconds.

On a shared CPU the wall time includes time the scheduler gave to other processes; the process
CPU time does not. Both are recorded, and `cpu_s / wall_s` says how many cores the run really had.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from reducio.bench.env import synchronize


@dataclass(frozen=True, kw_only=True)
class Timing:
    """Seconds per timed call (warm-up calls excluded)."""

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    warmup: int
    clock: str  # "cuda-events" | "perf_counter"
    extra: dict = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return len(self.wall_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def best_s(self) -> float:
        return min(self.wall_s)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(self.cpu_s)

    def to_dict(self) -> dict:
        return {"median_s": self.median_s, "best_s": self.best_s,
                "median_cpu_s": self.median_cpu_s,
                "std_s": statistics.stdev(self.wall_s) if len(self.wall_s) > 1 else 0.0,
                "wall_s": list(self.wall_s), "cpu_s": list(self.cpu_s), "warmup": self.warmup,
                "repeats": self.repeats, "clock": self.clock, **self.extra}


def time_fn(fn: Callable[[], Any], *, device: torch.device | str = "cpu", warmup: int = 1,
            repeats: int = 3) -> tuple[Timing, Any]:
    """Call fn() `warmup` times untimed, then `repeats` times timed. Returns (Timing, last output).

    On CUDA the wall time comes from CUDA events around the call (the GPU's own clock, after a
    synchronise), so asynchronous launches are counted where they run.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    device = torch.device(device)
    out = None
    for _ in range(warmup):
        out = fn()
        del out
        out = None
    synchronize(device)
    walls, cpus = [], []
    for _ in range(repeats):
        out = None  # let the previous output go before the next call allocates its own
        cpu0 = time.process_time()
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            torch.cuda.synchronize(device)
            walls.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = time.perf_counter()
            out = fn()
            walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
    clock = "cuda-events" if device.type == "cuda" else "perf_counter"
    return Timing(wall_s=tuple(walls), cpu_s=tuple(cpus), warmup=warmup, clock=clock), out


class StageTimer:
    """Named stages of one run (the end-to-end breakdown): `with timer.stage("dit_loop"): ...`.

    Stages nest: a stage entered inside another is billed to itself only, and its time is taken
    out of the enclosing stage (exclusive times), so wrapping a component that a pipeline calls
    from inside its loop splits the loop's time without double counting. The stages therefore add
    up to the wall time of the outermost ones. Every boundary is synchronised (CUDA events on a
    GPU), so queued GPU work is billed to the stage that queued it.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.wall_s: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[_Stage] = []

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)

    def wrap(self, obj: Any, method: str, name: str) -> None:
        """Bill every call of obj.method to stage `name` (instance attribute; the class and other
        instances are untouched)."""
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            with self.stage(name):
                return original(*args, **kwargs)

        object.__setattr__(obj, method, timed)

    @property
    def total_s(self) -> float:
        return sum(self.wall_s.values())

    def to_dict(self) -> dict:
        return {"stages_s": dict(self.wall_s), "stages_cpu_s": dict(self.cpu_s),
                "calls": dict(self.calls), "total_s": self.total_s,
                "clock": "cuda-events" if self.device.type == "cuda" else "perf_counter"}


class _Stage:
    def __init__(self, timer: StageTimer, name: str) -> None:
        self.timer, self.name = timer, name
        self.child_wall = self.child_cpu = 0.0

    def __enter__(self) -> _Stage:
        synchronize(self.timer.device)
        self.timer._stack.append(self)
        self.cpu0 = time.process_time()
        if self.timer.device.type == "cuda":
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.timer.device.type == "cuda":
            self.end.record()
            torch.cuda.synchronize(self.timer.device)
            wall = self.start.elapsed_time(self.end) / 1000.0
        else:
            wall = time.perf_counter() - self.t0
        cpu = time.process_time() - self.cpu0
        timer = self.timer
        timer._stack.pop()
        if timer._stack:                       # give the parent back the time spent here
            timer._stack[-1].child_wall += wall
            timer._stack[-1].child_cpu += cpu
        name = self.name
        timer.wall_s[name] = timer.wall_s.get(name, 0.0) + wall - self.child_wall
        timer.cpu_s[name] = timer.cpu_s.get(name, 0.0) + cpu - self.child_cpu
        timer.calls[name] = timer.calls.get(name, 0) + 1
