"""Where a benchmark ran: hardware, versions, threads, load; and the device/dtype switches.

Absolute times mean nothing without the machine, so every result file carries `environment()`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from reducio.errors import ConfigError

DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
          "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    """'fp32' | 'bf16' | 'fp16' (or a torch.dtype) -> torch.dtype."""
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; valid: fp32, bf16, fp16")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(
        dtype, str(dtype).removeprefix("torch."))


def resolve_device(name: str | None) -> torch.device:
    """None / 'auto' -> cuda when available, else cpu. An unavailable cuda is an error."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA device is visible to torch "
                          f"{torch.__version__}; use --device cpu")
    return device


def set_threads(threads: int | None) -> int:
    """Pin torch's intra-op threads (None keeps torch's choice); returns the count in use.

    Denormals are flushed: random-weight nets drift into denormal range on CPU and get slow for
    reasons no real checkpoint would show.
    """
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    torch.set_flush_denormal(True)
    return torch.get_num_threads()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            return round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # an optional package missing or broken: record that it is absent
        return None


def environment(device: torch.device | str = "cpu") -> dict:
    """Hardware, software and load of this process: goes into every result file."""
    device = torch.device(device)
    env: dict = {
        "device": str(device),
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "diffusers": _version("diffusers"),
        "transformers": _version("transformers"),
        "reducio": _version("reducio"),
        "git_commit": _git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        # a shared machine: the load at the start says how much the wall times can be trusted
        env["load_average_1m_5m_15m"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        env["load_average_1m_5m_15m"] = None
    try:
        env["nice"] = os.nice(0)
    except OSError:
        env["nice"] = None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   gpu_capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version())
    return env


def hardware_label(env: dict) -> str:
    """One line naming the machine, for table captions."""
    if env.get("gpu"):
        return f"{env['gpu']} (CUDA {env.get('cuda')}), torch {env['torch']}"
    return (f"{env['cpu']} ({env['usable_cores']} cores, {env['torch_threads']} torch threads, "
            f"{env.get('cpu_capability')}), torch {env['torch']}")
