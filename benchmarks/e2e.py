"""Benchmark 3: end-to-end text-to-video broken down by stage (text encode, stage 1, image
conditions, DiT loop, VAE decode), random weights, next to the paper's 15.5 s on one A100.

    python benchmarks/e2e.py --device cuda --dtype bf16 [--compile]   # 16x1024^2, 1.2B DiT
    python benchmarks/e2e.py --scale tiny --threads 1                  # CPU: tiny presets, 64 px

Same as `reducio bench e2e ...` (all options: --help); docs/benchmarks.md explains the output.
"""

import sys

from reducio.cli.run.bench import main

if __name__ == "__main__":
    raise SystemExit(main(["e2e", *sys.argv[1:]], "python benchmarks/e2e.py " + " ".join(sys.argv[1:])))
