"""Peak memory of one measurement.

GPU: `torch.cuda.max_memory_allocated` after a reset, minus what was allocated before (the
activations and workspaces of the call) plus the absolute peak.

CPU: resident set size. The honest peak is the high-water mark of a *fresh* process that did only
this measurement (`resource.getrusage(...).ru_maxrss`), which is why benchmarks run each model in
its own subprocess (`reducio.bench.isolate`). Inside that process, Linux lets us reset the
high-water mark (`echo 5 > /proc/self/clear_refs`) so each phase (encode, decode) gets its own
peak; where that is not possible the phase peak is None and only the process peak is reported.
"""

from __future__ import annotations

import resource
import sys

import torch

MIB = 2**20


def rss_mib() -> float | None:
    """Current resident set size of this process (Linux /proc; None elsewhere)."""
    return _status_mib("VmRSS")


def current_mib(device: torch.device | str = "cpu") -> float | None:
    """Resident set (CPU) or allocated CUDA memory (GPU) right now."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / MIB
    return rss_mib()


def process_peak_rss_mib() -> float:
    """Lifetime RSS high-water mark of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def _status_mib(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """`with PeakMemory(device) as m: ...` then `m.to_dict()`.

    Fields (MiB): `before` (resident / allocated when entering), `peak` (highest during the block,
    None on CPU when the high-water mark cannot be reset), `delta` = peak - before (what the block
    itself needed), `process_peak` (CPU: the process's lifetime high-water mark; GPU: reserved peak).
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.before = self.peak = self.process_peak = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device) / MIB
        else:
            self.before = rss_mib()
            self._resettable = _reset_rss_peak()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) / MIB
            self.process_peak = torch.cuda.max_memory_reserved(self.device) / MIB
        else:
            self.peak = _status_mib("VmHWM") if self._resettable else None
            self.process_peak = process_peak_rss_mib()

    @property
    def delta(self) -> float | None:
        if self.peak is None or self.before is None:
            return None
        # the high-water mark can sit below the entry RSS when pages were returned meanwhile
        return max(0.0, self.peak - self.before)

    def to_dict(self) -> dict:
        kind = "cuda_allocated" if self.device.type == "cuda" else "cpu_rss"
        return {"kind": kind, "before_mib": self.before, "peak_mib": self.peak,
                "delta_mib": self.delta, "process_peak_mib": self.process_peak}
