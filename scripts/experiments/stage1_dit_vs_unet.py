"""Stage-1 design experiment: pixel DiT with 4x4 patches vs a diffusers UNet, at equal CPU wall-clock.

AN EXPERIMENT, NOT A PIPELINE OPTION: nothing here is reachable from `reducio` itself. It answers
one question by measurement: for the built-in stage-1 text-to-image generator (64x64 RGB, MiniLM
text, shapes-world content frames), does a `ReducioDiT` with (1, 4, 4) patches or a diffusers
`UNet2DConditionModel` cross-attending to the MiniLM token states learn more in the same CPU
wall-clock time? The shipped 8x8-patch model is evaluated the same way as the reference.

Both designs are trained from scratch with everything else taken from the stage-1 recipe
(`src/reducio/training/recipes/stage1-tiny-cpu.yaml`, `reducio.training.stage1_objective`):
- data: `ContentFrameDataset("train")` (middle frames of `reducio.data.synthetic.world` clips,
  rendered on the fly, 100,000 clips per epoch, shuffled with seed 0: both designs see the same
  order), captions encoded by the packaged MiniLM (`MiniLMTextEncoder.load()`), cached per caption;
- objective: `make_objective` of the recipe's DiffusionConfig (rectified flow, x0 prediction with
  the loss on the implied velocity = `flow_x`, uniform sigmas, 10 % caption dropout for guidance);
- batch 32, AdamW lr 3e-4 betas (0.9, 0.999) wd 0, 100 warm-up steps, grad clip 1.0, EMA 0.999.
The DiT is `ReducioStage1Generator(Stage1Config)` of preset tiny-image with dit.patch_size (1, 4, 4)
(256 tokens instead of 64). The UNet (`UNetStage1` below) predicts x0 like the DiT; a dropped
caption is replaced by a learned null token exactly as in `ReducioDiT` (text tokens masked out,
one null token attended instead).

Evaluation (like scripts/stage1_guidance_interval.py): the first --count validation captions
(`make_clip(i, "validation", 64, 16).caption`), one sample each from seed-0 noise, 30 Euler steps
(`make_scheduler(diffusion, "euler")`), guidance 3 on the text, judged by `ShapesEvaluator` on the
frame as a still clip: background, colour, shape, object count, and all four (joint).

Commands (run from the repository root; 1 thread each, both trainings at once):

    python scripts/experiments/stage1_dit_vs_unet.py train --arch dit4 --minutes 19 \\
        --out runs/stage1-design/dit4
    python scripts/experiments/stage1_dit_vs_unet.py train --arch unet --minutes 19 \\
        --out runs/stage1-design/unet
    python scripts/experiments/stage1_dit_vs_unet.py eval --run runs/stage1-design/dit4 \\
        --json benchmarks/results/2026-12-06-cpu/stage1-design/dit4.json
    python scripts/experiments/stage1_dit_vs_unet.py eval --run runs/stage1-design/unet \\
        --json benchmarks/results/2026-12-06-cpu/stage1-design/unet.json
    python scripts/experiments/stage1_dit_vs_unet.py eval --stage1 src/reducio/assets/pipeline-tiny \\
        --json benchmarks/results/2026-12-06-cpu/stage1-design/shipped-dit8.json
    python scripts/experiments/stage1_dit_vs_unet.py params     # parameter counts of the designs

A run folder holds config.json (the arguments and parameter count), log.jsonl (loss every 50
steps: mean over the last 50, wall seconds), and checkpoint.pt (raw and EMA weights, steps, time).
`eval --weights raw|ema` picks which weights (default raw: after a short run the 0.999 EMA still
averages in the first, untrained steps).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

ATTRIBUTES = ("background", "colour", "shape", "object_count")

# ----------------------------------------------------------------------------- designs

RECIPE_DIFFUSION = {"objective": "flow_x", "timestep_sampling": "uniform"}


def dit_config(patch: int = 4):
    """The stage-1 recipe's Stage1Config (tiny-image, flow_x, uniform sigmas) with (1, p, p) patches."""
    from reducio.training.config import Stage1ModelSection, stage1_config

    return stage1_config(Stage1ModelSection(
        preset="tiny-image", dit_overrides={"prediction_type": "flow_x", "patch_size": (1, patch, patch)},
        diffusion=RECIPE_DIFFUSION))


UNET_KWARGS = dict(
    sample_size=64, in_channels=3, out_channels=3, layers_per_block=1,
    block_out_channels=(32, 64, 128),
    # Cross- and self-attention only at the lowest resolution (16x16, and the mid block): with
    # attention at 32x32 as well (1,024 tokens) a batch-32 step took 24-30 s on one CPU thread
    # (torch's CPU flash-attention dominated the profile), with it at 16x16 only about 7 s.
    down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    cross_attention_dim=384, attention_head_dim=32, norm_num_groups=32,
)


class UNetStage1(nn.Module):
    """Text -> 64 px image with a diffusers UNet2DConditionModel cross-attending to text tokens.

    Same interface as `ReducioStage1Generator` where the experiment needs it: `training_loss`,
    `denoise` and a `ReducioDiT`-like forward for `guided_prediction`, the same objective.
    """

    def __init__(self, diffusion_config, unet_kwargs: dict | None = None) -> None:
        from diffusers import UNet2DConditionModel
        from reducio.diffusion import make_objective

        super().__init__()
        self.diffusion_config = diffusion_config
        self.unet = UNet2DConditionModel(**(unet_kwargs or UNET_KWARGS))
        dim = self.unet.config.cross_attention_dim
        self.null_text = nn.Parameter(torch.zeros(1, 1, dim))
        self.objective = make_objective(diffusion_config)

    def forward(self, noisy, timesteps, *, text=None, text_mask=None, drop_text=None, return_dict=False,
                **unused):
        b = noisy.shape[0]
        device = noisy.device
        if drop_text is None:
            drop_text = torch.zeros(b, dtype=torch.bool, device=device)
        elif isinstance(drop_text, bool):
            drop_text = torch.full((b,), drop_text, dtype=torch.bool, device=device)
        if text_mask is None:
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=device)
        keep = text_mask.bool() & ~drop_text[:, None]                         # B L
        null_on = ~keep.any(dim=1)                                            # B
        context = torch.cat([text, self.null_text.expand(b, 1, -1).to(text.dtype)], dim=1)
        mask = torch.cat([keep, null_on[:, None]], dim=1)
        t = torch.as_tensor(timesteps, device=device, dtype=torch.float32)
        if t.ndim == 0:
            t = t.expand(b)
        out = self.unet(noisy[:, :, 0], t, encoder_hidden_states=context,
                        encoder_attention_mask=mask, return_dict=False)[0]
        return (out[:, :, None],)

    def denoise(self, noisy, timesteps, **conditions):
        return self(noisy, timesteps, **conditions)[0]

    def training_loss(self, images, text_tokens, text_mask=None, *, generator=None, drop_text=None):
        from reducio.diffusion import sample_condition_drop

        batch = self.objective.prepare(images[:, :, None], generator=generator)
        if drop_text is None:
            drop_text, _ = sample_condition_drop(images.shape[0], self.diffusion_config.text_drop_prob, 0.0,
                                                 generator=generator, device=images.device)
        prediction = self.denoise(batch.noisy, batch.timesteps, text=text_tokens, text_mask=text_mask,
                                  drop_text=drop_text)
        return self.objective.loss(prediction, batch)


def build(arch: str) -> nn.Module:
    if arch == "dit4":
        from reducio.pipelines.stage1 import ReducioStage1Generator

        return ReducioStage1Generator(dit_config(4))
    if arch == "dit8":
        from reducio.pipelines.stage1 import ReducioStage1Generator

        return ReducioStage1Generator(dit_config(8))
    if arch == "unet":
        return UNetStage1(dit_config(4).diffusion)
    raise SystemExit(f"unknown --arch {arch!r} (dit4, dit8, unet)")


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def prediction_fn(model: nn.Module):
    """A callable with ReducioDiT's forward signature (what guided_prediction calls)."""
    if isinstance(model, UNetStage1):
        return model
    return model._denoise_tuple


# ----------------------------------------------------------------------------- training


class CaptionCache:
    """MiniLM token states per caption (the shapes world reuses a small vocabulary)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.cache: OrderedDict[str, tuple[torch.Tensor, int]] = OrderedDict()

    @torch.no_grad()
    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        missing = list(dict.fromkeys(c for c in captions if c not in self.cache))
        if missing:
            text = self.encoder.encode(missing)
            for b, caption in enumerate(missing):
                self.cache[caption] = (text.tokens[b].float().cpu(), int(text.mask[b].sum()))
        tokens = torch.stack([self.cache[c][0] for c in captions])
        lengths = torch.tensor([self.cache[c][1] for c in captions])
        return tokens, torch.arange(tokens.shape[1]) < lengths[:, None]


def train(args) -> None:
    from reducio.conditioning import MiniLMTextEncoder
    from reducio.training.schedules import WarmupConstant
    from reducio.training.ema import EMA
    from reducio.training.stage1_objective import ContentFrameDataset

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = build(args.arch).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), weight_decay=0.0, eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupConstant(args.warmup))
    ema = EMA(model, decay=0.999)
    encode = CaptionCache(MiniLMTextEncoder.load())
    data = ContentFrameDataset("train", size=64, frames=16, length=100_000)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size, shuffle=True, num_workers=0,
                                         drop_last=True, generator=torch.Generator().manual_seed(args.seed))
    (out / "config.json").write_text(json.dumps({**vars(args), "parameters": count(model),
                                                 "unet_kwargs": UNET_KWARGS if args.arch == "unet" else None},
                                                indent=2, default=str) + "\n")
    log = (out / "log.jsonl").open("w")
    budget = args.minutes * 60.0
    started = time.time()
    step, window = 0, []
    done = False
    while not done:
        for batch in loader:
            tokens, mask = encode(list(batch["caption"]))
            loss = model.training_loss(batch["image"], tokens, mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            ema.update(model, step)
            window.append(float(loss.detach()))
            elapsed = time.time() - started
            if step % 50 == 0:
                record = {"step": step, "loss": sum(window) / len(window), "seconds": round(elapsed, 1),
                          "s_per_step": round(elapsed / step, 4)}
                window = []
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(json.dumps(record), flush=True)
            if elapsed >= budget or (args.max_steps and step >= args.max_steps):
                done = True
                break
    elapsed = time.time() - started
    raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ema.copy_to(model)
    torch.save({"arch": args.arch, "steps": step, "seconds": elapsed, "parameters": count(model),
                "raw": raw, "ema": model.state_dict()}, out / "checkpoint.pt")
    summary = {"final": True, "steps": step, "seconds": round(elapsed, 1), "s_per_step": round(elapsed / step, 4)}
    log.write(json.dumps(summary) + "\n")
    log.close()
    print(json.dumps(summary), flush=True)


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(args) -> None:
    from reducio.conditioning import MiniLMTextEncoder
    from reducio.data.synthetic.world import make_clip
    from reducio.diffusion.guidance import guided_prediction
    from reducio.diffusion.schedulers import init_noise_sigma, make_scheduler, scale_model_input
    from reducio.eval.shapes import ShapesEvaluator

    torch.set_num_threads(args.threads)
    info: dict = {}
    if args.stage1:
        from reducio.pipelines.stage1 import ReducioStage1Generator

        model = ReducioStage1Generator.from_pretrained(args.stage1).eval()
        diffusion = model.config.diffusion
        objective = model.objective
        info = {"model": args.stage1, "arch": f"shipped ReducioDiT patch {tuple(model.config.dit.patch_size)}",
                "weights": "as shipped (EMA)", "refiner": model.refiner is not None}
    else:
        ckpt = torch.load(Path(args.run) / "checkpoint.pt", map_location="cpu", weights_only=False)
        model = build(ckpt["arch"])
        model.load_state_dict(ckpt[args.weights])
        model.eval()
        diffusion = dit_config(4).diffusion
        objective = model.objective
        info = {"model": args.run, "arch": ckpt["arch"], "weights": args.weights, "train_steps": ckpt["steps"],
                "train_seconds": round(ckpt["seconds"], 1), "s_per_step": round(ckpt["seconds"] / ckpt["steps"], 4)}
    info["parameters"] = count(model)
    reranker = getattr(model, "reranker", None)
    # The denoiser alone (the shipped folder also stores a 1.57 M reranker, unused here: one sample per prompt).
    info["denoiser_parameters"] = count(model) - (count(reranker) if reranker is not None else 0)
    fn = prediction_fn(model)
    captions = [make_clip(i, args.split, 64, 16).caption for i in range(args.count)]
    text = MiniLMTextEncoder.load().encode(captions)
    evaluator = ShapesEvaluator()
    started = time.time()
    generator = torch.Generator().manual_seed(args.seed)
    scheduler = make_scheduler(diffusion, args.sampler)
    scheduler.set_timesteps(args.steps)
    latent = torch.randn((args.count, 3, 1, 64, 64), generator=generator) * init_noise_sigma(scheduler)
    chunks = range(0, args.count, args.chunk)
    for t in scheduler.timesteps:
        model_input = scale_model_input(scheduler, latent, t)
        prediction = torch.cat([
            guided_prediction(fn, model_input[i:i + args.chunk], t, text=text.tokens[i:i + args.chunk],
                              text_mask=text.mask[i:i + args.chunk], text_scale=args.guidance)
            for i in chunks])
        prediction = objective.scheduler_prediction(prediction, model_input, t)
        latent = scheduler.step(prediction.float(), t, latent, generator=generator).prev_sample
    hits = dict.fromkeys((*ATTRIBUTES, "joint"), 0)
    for image, caption in zip(latent[:, :, 0].clamp(-1, 1), captions):
        verdict = evaluator.evaluate(image[:, None].expand(3, 16, *image.shape[1:]), caption)
        for name in ATTRIBUTES:
            hits[name] += bool(getattr(verdict, name))
        hits["joint"] += all(bool(getattr(verdict, name)) for name in ATTRIBUTES)
    result = {**info, "split": args.split, "prompts": args.count, "sampler": args.sampler, "sampling_steps": args.steps,
              "guidance": args.guidance, "seed": args.seed,
              "scores": {k: round(v / args.count, 4) for k, v in hits.items()},
              "hits": hits, "eval_seconds": round(time.time() - started, 1)}
    print(json.dumps(result, indent=2), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.save_grid:
        from PIL import Image

        images = ((latent[:64, :, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # N 3 H W
        n, _, h, w = images.shape
        rows = math.ceil(n / 8)
        grid = torch.zeros(3, rows * h, 8 * w, dtype=torch.uint8)
        for k, image in enumerate(images):
            grid[:, (k // 8) * h:(k // 8 + 1) * h, (k % 8) * w:(k % 8 + 1) * w] = image
        Image.fromarray(grid.permute(1, 2, 0).numpy()).save(args.save_grid)


def params(args) -> None:
    for arch in ("dit8", "dit4", "unet"):
        print(arch, count(build(arch)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--arch", required=True, choices=["dit4", "dit8", "unet"])
    t.add_argument("--out", required=True)
    t.add_argument("--minutes", type=float, default=20.0)
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a run folder of `train`")
    src.add_argument("--stage1", help="a stage-1 model or pipeline folder (e.g. src/reducio/assets/pipeline-tiny)")
    e.add_argument("--weights", choices=["raw", "ema"], default="raw")
    e.add_argument("--split", default="validation")
    e.add_argument("--count", type=int, default=160)
    e.add_argument("--steps", type=int, default=30)
    e.add_argument("--guidance", type=float, default=3.0)
    e.add_argument("--sampler", default="euler")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--chunk", type=int, default=40, help="prompts per forward (memory)")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--json", default=None)
    e.add_argument("--save-grid", default=None, help="a PNG of the first 64 samples")
    sub.add_parser("params")
    args = parser.parse_args()
    {"train": train, "eval": evaluate, "params": params}[args.command](args)


if __name__ == "__main__":
    main()
