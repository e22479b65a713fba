"""Run one measurement in a fresh Python process, for honest CPU peak memory.

A process that built and ran three models before keeps their freed pages, allocator caches and
high-water mark; the fourth model's "peak" would be meaningless. So a comparison runs each model
as `python -m reducio.bench.isolate module:function` with JSON keyword arguments, one after the
other from the same parent and with the same seed (the same input tensor), and collects the JSON
the function returns. `isolated=False` runs the same function in-process (GPU runs, tests).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from reducio.errors import ReducioError


class BenchmarkError(ReducioError, RuntimeError):
    """A benchmark could not run (a measurement process failed, a size does not fit the model)."""


def _resolve(target: str) -> Callable[..., dict]:
    module, _, name = target.partition(":")
    if not module.startswith("reducio.") or not name:
        raise BenchmarkError(f"isolated target must be 'reducio.<module>:<function>', got {target!r}")
    return getattr(importlib.import_module(module), name)


def run_measurement(target: str, kwargs: dict[str, Any], *, isolated: bool = True,
                    threads: int | None = None, timeout: float | None = None) -> dict:
    """Call `target(**kwargs)` (a function returning a JSON-able dict), in a fresh process if
    `isolated`. `threads` also sets OMP_NUM_THREADS for the child so its thread pools start small."""
    if not isolated:
        return _resolve(target)(**kwargs)
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="reducio-bench-") as tmp:
        out_path = Path(tmp) / "result.json"
        proc = subprocess.run([sys.executable, "-m", "reducio.bench.isolate", target, str(out_path)],
                              input=json.dumps(kwargs), text=True, capture_output=True, env=env,
                              timeout=timeout)
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise BenchmarkError(f"measurement {target}({kwargs}) failed in its subprocess "
                                 f"(exit {proc.returncode}):\n{tail}")
        return json.loads(out_path.read_text())


def _main(argv: list[str]) -> int:
    target, out_path = argv
    kwargs = json.loads(sys.stdin.read() or "{}")
    result = _resolve(target)(**kwargs)
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
