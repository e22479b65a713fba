"""Benchmark 1: Reducio-VAE vs the LTX-Video, Wan 2.1 and CogVideoX VAEs (random weights) on the
same clip: encode / decode time, peak memory, FLOPs and the latent each produces.

    python benchmarks/vae.py --quick --threads 1           # 128 px, the four full-size models
    python benchmarks/vae.py --threads 1                   # 256 px (minutes per model on a CPU)
    python benchmarks/vae.py --tile                        # + one 320 px tile of the 1024 px path
    python benchmarks/vae.py --device cuda --dtype bf16    # GPU

Same as `reducio bench vae ...` (all options: --help); docs/benchmarks.md explains the output.
"""

import sys

from reducio.cli.run.bench import main

if __name__ == "__main__":
    raise SystemExit(main(["vae", *sys.argv[1:]], "python benchmarks/vae.py " + " ".join(sys.argv[1:])))
