"""Speed and memory benchmarks (docs/benchmarks.md): the library behind `reducio bench` and
`benchmarks/*.py`. Each `run_*_benchmark` returns a JSON-able record; `*_tables` print it."""

from reducio.bench.dit import dit_tables, run_dit_benchmark
from reducio.bench.e2e import E2E_SPECS, E2ESpec, e2e_tables, run_e2e_benchmark
from reducio.bench.flops import count_flops, dit_forward_flops, peak_estimate
from reducio.bench.isolate import BenchmarkError, run_measurement
from reducio.bench.memory import PeakMemory
from reducio.bench.peers import PEERS
from reducio.bench.report import markdown_table, write_json
from reducio.bench.throughput import run_throughput_benchmark, throughput_tables
from reducio.bench.timing import StageTimer, time_fn
from reducio.bench.vae import run_vae_benchmark, vae_tables

__all__ = [
    "BenchmarkError",
    "E2ESpec",
    "E2E_SPECS",
    "PEERS",
    "PeakMemory",
    "StageTimer",
    "count_flops",
    "dit_forward_flops",
    "dit_tables",
    "e2e_tables",
    "markdown_table",
    "peak_estimate",
    "run_dit_benchmark",
    "run_e2e_benchmark",
    "run_measurement",
    "run_throughput_benchmark",
    "run_vae_benchmark",
    "throughput_tables",
    "time_fn",
    "vae_tables",
    "write_json",
]
