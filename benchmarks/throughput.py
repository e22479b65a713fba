"""Benchmark 4: latent extraction (clips/s) and DiT training (samples/s, tokens/s, MFU).

    python benchmarks/throughput.py --threads 1                     # CPU: tiny VAE + tiny DiT
    python benchmarks/throughput.py --device cuda                   # + ft4 and the 1.2B DiT, bf16

Same as `reducio bench throughput ...` (all options: --help); docs/benchmarks.md explains it.
"""

import sys

from reducio.cli.run.bench import main

if __name__ == "__main__":
    raise SystemExit(main(["throughput", *sys.argv[1:]],
                          "python benchmarks/throughput.py " + " ".join(sys.argv[1:])))
