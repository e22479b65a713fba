"""Speed and memory benchmarks (docs/benchmarks.md): the library behind `reducio bench` and
`benchmarks/*.py`. Each `run_*_benchmark` returns a JSON-able record; `*_tables` print it.

Names load on first use: `reducio bench --help` reads the default model and variant lists
without importing the models (and with them diffusers and peft).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "BenchmarkError": "reducio.bench.isolate",
    "E2ESpec": "reducio.bench.e2e",
    "E2E_SPECS": "reducio.bench.e2e",
    "PEERS": "reducio.bench.peers",
    "PeakMemory": "reducio.bench.memory",
    "StageTimer": "reducio.bench.timing",
    "count_flops": "reducio.bench.flops",
    "dit_forward_flops": "reducio.bench.flops",
    "dit_tables": "reducio.bench.dit",
    "e2e_tables": "reducio.bench.e2e",
    "markdown_table": "reducio.bench.report",
    "peak_estimate": "reducio.bench.flops",
    "run_dit_benchmark": "reducio.bench.dit",
    "run_e2e_benchmark": "reducio.bench.e2e",
    "run_measurement": "reducio.bench.isolate",
    "run_throughput_benchmark": "reducio.bench.throughput",
    "run_vae_benchmark": "reducio.bench.vae",
    "throughput_tables": "reducio.bench.throughput",
    "time_fn": "reducio.bench.timing",
    "vae_tables": "reducio.bench.vae",
    "write_json": "reducio.bench.report",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reducio.bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
