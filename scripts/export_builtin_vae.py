"""Export the best checkpoint of a `tiny-cpu` run as the built-in `tiny` VAE (package data).

    python scripts/export_builtin_vae.py --run runs/vae-tiny
    python scripts/export_builtin_vae.py --run runs/vae-tiny runs/other-run   # best over both runs
    python scripts/export_builtin_vae.py --checkpoint runs/vae-tiny/checkpoints/step-00003000

Picks, among the run's kept checkpoints (or the one given), the one with the best posterior-mode
PSNR over `--count` clips of the shapes world's `test` split, writes it with `save_pretrained` to
`src/reducio/assets/vae-tiny/` (config.json + model.safetensors, weights stored as float16 to keep
the package small: they load back as float32), then measures the *exported* weights on `test` and
`heldout` (scripts/eval_builtin_vae.py: PSNR, SSIM, content-copy baseline, latent-swap gap) and
writes metadata.json with those numbers, the step and the command that trained them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_builtin_vae import load_checkpoint, load_clips, measure  # noqa: E402

from reducio.loading.sources import assets_root  # noqa: E402
from reducio.models.vae import ReducioVAE  # noqa: E402

TARGET_PSNR, TARGET_SSIM = 32.0, 0.95  # the target for the built-in tiny VAE
# What tests/models/vae/test_builtin_tiny.py checks on 4 test clips; recorded as booleans so the
# test knows what the shipped weights claim.
MIN_GAIN_OVER_COPY_DB = 2.0
MIN_SWAP_GAP_DB = 2.0
TRAIN_COMMAND = ("scripts/train_builtin_vae.sh  (= OMP_NUM_THREADS=1 reducio train vae --recipe tiny-cpu "
                 "--output-dir runs/vae-tiny, resumed with --resume --set model.overrides.content_skip=true)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, nargs="+", default=[Path("runs/vae-tiny")],
                        help="run folder(s) whose kept checkpoints compete")
    parser.add_argument("--checkpoint", type=Path, default=None, help="export this checkpoint folder")
    parser.add_argument("--vae", type=Path, default=None,
                        help="export this saved model folder instead of a training checkpoint "
                             "(e.g. from scripts/experiments/vae_recipe_probe.py); give --command")
    parser.add_argument("--command", default=None, help="the command that trained --vae")
    parser.add_argument("--steps", type=int, default=None, help="training steps of --vae")
    parser.add_argument("--count", type=int, default=64, help="clips per split")
    parser.add_argument("--output", type=Path, default=assets_root() / "vae-tiny")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.vae is not None:
        if not args.command or args.steps is None:
            raise SystemExit("--vae needs --command (what trained it) and --steps")
        return export(ReducioVAE.from_pretrained(args.vae), args, step=args.steps,
                      command=args.command, source=str(args.vae), loss=None, lr=None)
    if args.checkpoint is not None:
        candidates = [args.checkpoint]
    else:
        candidates = sorted(c for run in args.run for c in (run / "checkpoints").glob("step-*"))
    if not candidates:
        raise SystemExit(f"no checkpoints in {[str(run / 'checkpoints') for run in args.run]}")
    test = load_clips("test", args.count)
    scored = []
    for folder in candidates:
        result = measure(load_checkpoint(folder), test)
        print(f"{folder}: test psnr {result['psnr']:.2f} ssim {result['ssim']:.4f} "
              f"swap gap {result['swap_gap_db']:.2f} dB", flush=True)
        scored.append((result["psnr"], folder))
    best = max(scored)[1]
    step = json.loads((best / "state.json").read_text())["step"]

    run_dir = best.parent.parent
    command = TRAIN_COMMAND
    if (run_dir / "commands.txt").is_file():  # what started this run (train_builtin_vae.sh logs it)
        command = (run_dir / "commands.txt").read_text().splitlines()[0].split(" ", 1)[1]
    run_config = json.loads((best / "config.json").read_text())
    loss = {k: v for k, v in run_config["loss"].items() if not k.startswith(("disc", "lpips"))}
    return export(load_checkpoint(best), args, step=step, command=command, source=str(best),
                  loss=loss, lr=run_config["optim"]["lr"])


def export(vae: ReducioVAE, args, *, step: int, command: str, source: str, loss, lr) -> int:
    vae = vae.half()  # fp16 on disk: ~8 MB; from_pretrained loads it as fp32
    args.output.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(args.output)
    exported = ReducioVAE.from_pretrained(args.output).eval()
    results = {split: measure(exported, load_clips(split, args.count)) for split in ("test", "heldout")}
    first4 = measure(exported, load_clips("test", 4))
    metadata = {
        "trained": True,
        "steps": step,
        "recipe": "tiny-cpu",
        "command": command,
        "loss": loss,
        "optim_lr": lr,
        "checkpoint": source,
        "weights_dtype": "float16 on disk, loaded as float32",
        "eval": f"posterior mode, clips 0-{args.count - 1} of each split, reducio.eval.psnr/ssim "
                "(scripts/eval_builtin_vae.py)",
        "test_psnr": round(results["test"]["psnr"], 3),
        # what tests/models/vae/test_builtin_tiny.py re-measures (clips 0-3 of test)
        "test_psnr_clips_0_3": round(first4["psnr"], 3),
        # the claims tests/models/vae/test_builtin_tiny.py checks on those 4 clips
        "clips_0_3_beat_content_copy": first4["psnr"] >= first4["content_copy_psnr"] + MIN_GAIN_OVER_COPY_DB,
        "clips_0_3_use_latent": first4["swap_gap_db"] >= MIN_SWAP_GAP_DB,
        "test_ssim": round(results["test"]["ssim"], 4),
        "heldout_psnr": round(results["heldout"]["psnr"], 3),
        "heldout_ssim": round(results["heldout"]["ssim"], 4),
        "content_copy_psnr": round(results["test"]["content_copy_psnr"], 3),
        "content_copy_ssim": round(results["test"]["content_copy_ssim"], 4),
        "heldout_content_copy_psnr": round(results["heldout"]["content_copy_psnr"], 3),
        "test_swap_gap_db": round(results["test"]["swap_gap_db"], 3),
        "heldout_swap_gap_db": round(results["heldout"]["swap_gap_db"], 3),
        "target": f"{TARGET_PSNR:g} dB / {TARGET_SSIM:g}",
        "target_psnr": TARGET_PSNR,
        "target_ssim": TARGET_SSIM,
        "meets_target": results["test"]["psnr"] >= TARGET_PSNR and results["test"]["ssim"] >= TARGET_SSIM,
        "beats_content_copy": results["test"]["psnr"] >= results["test"]["content_copy_psnr"] + MIN_GAIN_OVER_COPY_DB,
        "uses_latent": results["test"]["swap_gap_db"] >= MIN_SWAP_GAP_DB,
    }
    (args.output / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(metadata, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
