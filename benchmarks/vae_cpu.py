"""Reducio-VAE alone: CPU time and peak memory of encode / content / decode (random weights).

Kept for its command line; it is now `reducio bench vae --models reducio-<preset>` (benchmark 1
of the suite, docs/benchmarks.md), which runs the model in a fresh process for an honest peak.

    OMP_NUM_THREADS=1 python benchmarks/vae_cpu.py                 # ft4, 1x3x16x256x256
    python benchmarks/vae_cpu.py --preset tiny --size 64 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reducio.cli.run.bench import main as bench_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="ft4")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the median is reported")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    out = args.out / f"vae_cpu-{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    return bench_main(["vae", "--models", f"reducio-{args.preset}", "--frames", str(args.frames),
                       "--size", str(args.size), "--repeats", str(args.repeats),
                       "--device", "cpu", "-o", str(out)],
                      "python benchmarks/vae_cpu.py " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
