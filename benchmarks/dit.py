"""Benchmark 2: Reducio-DiT time per denoising step, memory, FLOPs and fraction of peak over
Reducio latents, side by side with the same transformer over a 4x8x8 VAE's latent grid.

    python benchmarks/dit.py --threads 1 --also-dtype bf16     # 1.2B at 256 + 1024 px (CPU:
                                                               # large grids depth-reduced, labelled)
    python benchmarks/dit.py --quick                           # the tiny preset at 256 px
    python benchmarks/dit.py --device cuda --dtype bf16        # GPU: every case measured in full

Same as `reducio bench dit ...` (all options: --help); docs/benchmarks.md explains the output.
"""

import sys

from reducio.cli.run.bench import main

if __name__ == "__main__":
    raise SystemExit(main(["dit", *sys.argv[1:]], "python benchmarks/dit.py " + " ".join(sys.argv[1:])))
