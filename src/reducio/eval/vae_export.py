"""Export a trained shapes-world VAE with its measured quality (`reducio eval export-vae`): pick the
best of a run's kept checkpoints by posterior-mode test PSNR, save it (weights stored as float16:
they load back as float32), measure the *exported* weights on `test` and `heldout`
(`reducio.eval.vae_world.measure`) and write them to metadata.json beside it.

The built-in `tiny` VAE is made this way (`src/reducio/assets/vae-tiny/`, docs/train-vae.md);
`reducio reconstruct` reads a built-in VAE's metadata.json to warn when it is below its target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from reducio.errors import ConfigError
from reducio.eval.vae_world import load_checkpoint, load_clips, measure
from reducio.models.vae import ReducioVAE

TARGET_PSNR, TARGET_SSIM = 32.0, 0.95  # the built-in tiny VAE's quality target (docs/train-vae.md)
# What tests/models/vae/test_builtin_tiny.py checks on 4 test clips; recorded as booleans so the
# test knows what the shipped weights claim.
MIN_GAIN_OVER_COPY_DB = 2.0
MIN_SWAP_GAP_DB = 2.0
TRAIN_COMMAND = ("scripts/train_builtin_vae.sh  (= OMP_NUM_THREADS=1 reducio train vae --recipe tiny-cpu "
                 "--output-dir runs/vae-tiny, resumed with --resume --set model.overrides.content_skip=true)")


def run_checkpoints(runs: list[Path]) -> list[Path]:
    """The kept checkpoints (`checkpoints/step-*`) of training runs, in order; ConfigError for none."""
    candidates = sorted(c for run in runs for c in (Path(run) / "checkpoints").glob("step-*"))
    if not candidates:
        raise ConfigError(f"no checkpoints in {[str(Path(run) / 'checkpoints') for run in runs]}; "
                          "pass the output folder of `reducio train vae`, or --checkpoint / --vae")
    return candidates


def best_checkpoint(candidates: list[Path], count: int,
                    report: Callable[[str], None] = print) -> Path:
    """The checkpoint folder with the best posterior-mode PSNR over clips 0..count-1 of `test`."""
    test = load_clips("test", count)
    scored = []
    for folder in candidates:
        result = measure(load_checkpoint(folder), test)
        report(f"{folder}: test psnr {result['psnr']:.2f} ssim {result['ssim']:.4f} "
               f"swap gap {result['swap_gap_db']:.2f} dB")
        scored.append((result["psnr"], folder))
    return max(scored)[1]


def checkpoint_provenance(folder: Path) -> dict[str, Any]:
    """step, command, loss weights and learning rate of a `checkpoints/step-*` folder's run."""
    step = json.loads((folder / "state.json").read_text())["step"]
    run_dir = folder.parent.parent
    command = TRAIN_COMMAND
    if (run_dir / "commands.txt").is_file():  # what started this run (train_builtin_vae.sh logs it)
        command = (run_dir / "commands.txt").read_text().splitlines()[0].split(" ", 1)[1]
    run_config = json.loads((folder / "config.json").read_text())
    loss = {k: v for k, v in run_config["loss"].items() if not k.startswith(("disc", "lpips"))}
    return {"step": step, "command": command, "loss": loss, "lr": run_config["optim"]["lr"]}


def export_vae(vae: ReducioVAE, output: Path, *, count: int, step: int, command: str, source: str,
               loss: dict | None, lr: float | None) -> dict[str, Any]:
    """Save `vae` (fp16 on disk) to `output`, measure the saved weights, write and return metadata.json."""
    output = Path(output)
    vae = vae.half()  # fp16 on disk: ~8 MB; from_pretrained loads it as fp32
    output.mkdir(parents=True, exist_ok=True)
    vae.save_pretrained(output)
    exported = ReducioVAE.from_pretrained(output).eval()
    results = {split: measure(exported, load_clips(split, count)) for split in ("test", "heldout")}
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
        "eval": f"posterior mode, clips 0-{count - 1} of each split, reducio.eval.psnr/ssim (reducio eval vae)",
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
    (output / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


__all__ = ["best_checkpoint", "checkpoint_provenance", "export_vae", "run_checkpoints"]
