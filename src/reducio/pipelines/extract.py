"""Latent extraction: videos (or the synthetic world) -> latent shards for DiT training.

What one clip becomes follows the release's `scripts/extract_latent.py` (docs/architecture.md §5.2): the
Reducio-VAE motion latent (a posterior sample, or the mode), layer-normed with
`vae.normalize_latent` and stored in float16; the content frame (`content_frame_index`, the middle
frame) as
pixels; the caption's text-encoder token states; optionally the semantic tokens and the unscaled
content latent of the content frame. The layout is `reducio.data.latents`.

Scaling out: process `rank` of `world_size` (torchrun's RANK / WORLD_SIZE) takes items
i % world_size == rank and writes its own shards, so N processes never touch the same file.
Resuming: a shard that exists and reads back complete is skipped; shards are written atomically,
and a temp file left by a killed process is deleted and its shard redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from reducio.data.buckets import closest_bucket
from reducio.data.datasets import load_captions
from reducio.data.latents import (
    LatentShardError,
    ShardRecord,
    content_frame_to_stored,
    list_shards,
    read_header,
    shard_name,
    write_shard,
)
from reducio.data.sampling import stride_for
from reducio.data.synthetic.world import SPLIT_ALIASES, SPLITS, make_clip, parse_split_spec
from reducio.data.transforms import center_crop_box
from reducio.data.video_io import expand_inputs, probe_video, read_video
from reducio.errors import ConfigError, VideoInputError
from reducio.loading.saving import atomic_write_text
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.models.vae.config import content_frame_index
from reducio.pipelines.components import load_content_encoder, load_semantic_encoder
from reducio.pipelines.components import load_text_encoder as load_text_encoder_reference
from reducio.configs import Config

logger = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
SYNTHETIC_FPS = 16.0  # the shapes world's frame rate (synthetic/export.py)


@dataclass(frozen=True, kw_only=True)
class ExtractConfig(Config):
    """One extraction run. Model specs: see `load_vae`, `load_text_encoder`, `build_*_encoder`."""

    output: str
    source: Literal["folder", "synthetic"] = "folder"
    videos: str | None = None          # folder / file / glob (source=folder)
    captions: str | None = None        # CSV or JSONL with a path and a caption column
    split: str = "train"               # synthetic split; "train:diagonal" / "train:eight": diagonal motion
    count: int = 1000                  # synthetic clips
    start: int = 0                     # first synthetic clip index
    frames: int = 16
    size: int = 256                    # square side (ignored with `buckets`)
    buckets: int | None = None         # 256 / 512 / 1024: PixArt aspect-ratio buckets
    fps: float = 16.0
    sampling: Literal["nearest", "stride"] = "nearest"
    clips_per_video: int = 1           # windows spread evenly over each video
    vae: str = "ft4"
    latent: Literal["sample", "mode"] = "sample"
    tiling: bool = False               # the release always encodes with tiling; equal below 320 px
    text_encoder: str = "minilm"
    text_max_length: int | None = None  # None: the encoder's own (MiniLM 64, T5 120)
    semantic_encoder: str | None = None
    content_encoder: str | None = None
    content_frame_dtype: Literal["uint8", "fp16"] = "uint8"
    shard_size: int = 64
    batch_size: int = 4
    device: str | None = None
    dtype: Literal["fp32", "fp16", "bf16"] = "fp32"
    seed: int = 0
    local_files_only: bool = False

    def __post_init__(self) -> None:
        for name in ("count", "frames", "size", "shard_size", "batch_size", "clips_per_video"):
            if getattr(self, name) < 1:
                raise ConfigError(f"extract {name} must be >= 1, got {getattr(self, name)}")
        if self.source == "folder" and not (self.videos or self.captions):
            raise ConfigError("extracting from videos needs a videos folder/file/glob or a captions file; "
                              "or use the synthetic world (--synthetic train --count N)")


@dataclass
class ExtractReport:
    rank: int
    world_size: int
    items: int                 # items assigned to this process
    items_done_before: int     # in shards found complete (skipped)
    clips_written: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    shards_written: int = 0
    shards_skipped: int = 0
    seconds: float = 0.0

    @property
    def clips_per_second(self) -> float:
        return self.clips_written / self.seconds if self.seconds > 0 else 0.0


# ------------------------------------------------------------------------------------ models


def load_vae(spec: str, *, device=None, dtype=None):
    """A ReducioVAE for `spec`: anything `ReducioVAE.from_pretrained` takes, or `random:PRESET[@SEED]`
    (a seeded random init of a preset: smoke tests and the CPU recipes before a VAE is trained)."""
    if spec.startswith("random:"):
        preset, _, seed = spec[len("random:"):].partition("@")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed or 0))
            vae = ReducioVAE(VAEConfig.preset(preset))
        return vae.to(device=device, dtype=dtype).eval().requires_grad_(False)
    vae = ReducioVAE.from_pretrained(spec, torch_dtype=dtype, device=device)
    return vae.eval().requires_grad_(False)


def encoder_reference(kind: str, spec: str, **options) -> dict[str, Any]:
    """A command-line encoder spec -> a `reducio.pipelines.components` reference.

    text: "minilm" (packaged, 384-d) or a T5 folder / hub id; semantic: "patch-pixel" (built-in,
    64 x 192 tokens) or an OpenCLIP ViT-H-14 folder / hub id; content: "pooled-rgb" (built-in,
    3 x H/8 x W/8) or an SD-VAE (AutoencoderKL) folder / hub id.
    """
    builtin = {"text": ("minilm", "MiniLMTextEncoder"), "semantic": ("patch-pixel", "PatchPixelSemanticEncoder"),
               "content": ("pooled-rgb", "PooledRGBContentEncoder")}
    pretrained = {"text": "T5TextEncoder", "semantic": "CLIPSemanticEncoder", "content": "SDVAEContentEncoder"}
    name, cls = builtin[kind]
    reference = {"class": cls} if spec == name else {"class": pretrained[kind], "path_or_id": spec}
    return {**reference, **{k: v for k, v in options.items() if v is not None}}


def load_text_encoder(spec: str, *, max_length: int | None = None, device=None, dtype=None,
                      local_files_only: bool = False):
    return load_text_encoder_reference(encoder_reference("text", spec, max_length=max_length), device=device, torch_dtype=dtype,
                local_files_only=local_files_only)


def build_semantic_encoder(spec: str, *, device=None, dtype=None, local_files_only: bool = False):
    encoder = load_semantic_encoder(encoder_reference("semantic", spec), device=device, torch_dtype=dtype,
                                    local_files_only=local_files_only)
    return encoder.to(device)


def build_content_encoder(spec: str, *, device=None, dtype=None, local_files_only: bool = False):
    encoder = load_content_encoder(encoder_reference("content", spec), device=device, torch_dtype=dtype,
                                   local_files_only=local_files_only)
    return encoder.to(device)


def config_hash(config) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def process_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment (0, 1 without it)."""
    try:
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ConfigError(f"RANK / WORLD_SIZE must be integers, got {os.environ.get('RANK')!r} / "
                          f"{os.environ.get('WORLD_SIZE')!r}") from None
    if not 0 <= rank < world:
        raise ConfigError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world}")
    return rank, world


# ------------------------------------------------------------------------------------ sources


@dataclass
class Clip:
    video: torch.Tensor  # 3 T H W in [-1, 1]
    caption: str
    meta: dict[str, Any]


class ClipSource:
    """Item i -> its clips (a video gives `clips_per_video` windows; a synthetic item one clip)."""

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        if config.source == "synthetic":
            # "train:diagonal": a split of the world with the opt-in diagonal motion set
            split, _, _ = config.split.partition(":")
            if SPLIT_ALIASES.get(split, split) not in SPLITS:
                raise ConfigError(f"unknown synthetic split {config.split!r}; valid: {', '.join(SPLITS)}, "
                                  "optionally followed by :diagonal or :eight")
            self.split, self.motion = parse_split_spec(config.split)
            self.length = config.count
            return
        if config.captions:
            root = Path(config.videos) if config.videos else Path(config.captions).parent
            pairs = load_captions(config.captions)
            self.paths = [p if Path(p).is_absolute() else str(root / p) for p, _ in pairs]
            self.captions = [c for _, c in pairs]
        else:
            self.paths = [str(p) for p in expand_inputs(config.videos)]
            self.captions = [""] * len(self.paths)
        self.length = len(self.paths)

    def __len__(self) -> int:
        return self.length

    def clips(self, item: int) -> list[Clip]:
        """Raises VideoInputError for a corrupt, unreadable or too short video."""
        return self._synthetic(item) if self.config.source == "synthetic" else self._video(item)

    def _synthetic(self, item: int) -> list[Clip]:
        c = self.config
        clip = make_clip(c.start + item, self.split, c.size, c.frames, self.motion)
        video = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)  # 3 T H W
        name = self.split if self.motion == "axis" else f"{self.split}:{self.motion}"
        meta = {"caption": clip.caption, "source": f"shapes:{name}:{c.start + item}", "item": item,
                "window": 0, "seed": clip.seed, "fps": SYNTHETIC_FPS, "frame_indices": list(range(c.frames)),
                "height": c.size, "width": c.size, "source_size": [c.size, c.size], "bucket": None}
        return [Clip(video, clip.caption, meta)]

    def _video(self, item: int) -> list[Clip]:
        c, path = self.config, self.paths[item]
        info = probe_video(path)
        bucket = closest_bucket(info.height, info.width, c.buckets) if c.buckets else None
        out_size = bucket or (c.size, c.size)
        box = center_crop_box(info.height, info.width, out_size)
        if c.sampling == "stride":
            step = stride_for(info.fps, c.fps)
            latest = (info.num_frames - (c.frames - 1) * step - 1) / info.fps
        else:
            latest = info.num_frames / info.fps - (c.frames - 1) / c.fps - 1e-3
        if latest < 0:
            raise VideoInputError(f"{path}: too short for {c.frames} frames at {c.fps:g} fps "
                                  f"({info.num_frames} frames at {info.fps:g} fps)")
        clips = []
        for window in range(c.clips_per_video):
            start = latest * (window + 0.5) / c.clips_per_video  # one window: the middle of the video
            video = read_video(path, num_frames=c.frames, fps=c.fps, start=start, sampling=c.sampling, box=box)
            if c.sampling == "stride":
                first = math.ceil(start * info.fps - 0.5)
                indices = [first + k * stride_for(info.fps, c.fps) for k in range(c.frames)]
            else:  # nominal for constant-rate files: the nearest source frame to each target time
                indices = [min(info.num_frames - 1, round((start + k / c.fps) * info.fps)) for k in range(c.frames)]
            meta = {"caption": self.captions[item], "source": path, "item": item, "window": window,
                    "start_s": start, "fps": c.fps, "source_fps": info.fps, "sampling": c.sampling,
                    "frame_indices": indices, "height": out_size[0], "width": out_size[1],
                    "source_size": [info.height, info.width], "bucket": list(bucket) if bucket else None}
            clips.append(Clip(video, self.captions[item], meta))
        return clips


# ------------------------------------------------------------------------------------ encoding


class ClipEncoder:
    """The frozen models of one extraction and what they turn a batch of clips into."""

    def __init__(self, config: ExtractConfig, *, vae, text_encoder, semantic_encoder=None,
                 content_encoder=None) -> None:
        self.config = config
        self.vae, self.text_encoder = vae, text_encoder
        self.semantic_encoder, self.content_encoder = semantic_encoder, content_encoder
        self.info = {
            "vae": config.vae,
            "vae_config": vae.arch.to_dict(),
            "vae_config_hash": config_hash(vae.arch),
            "latent_mode": config.latent,
            "latent_channels": vae.config.latent_channels,
            "frames": config.frames,
            "text_encoder": config.text_encoder,
            "text_dim": int(text_encoder.dim),
            "text_max_length": int(text_encoder.max_length),
            "semantic_encoder": _name(config.semantic_encoder, semantic_encoder),
            "semantic_dim": int(semantic_encoder.dim) if semantic_encoder is not None else None,
            "has_semantic": semantic_encoder is not None,
            "content_encoder": _name(config.content_encoder, content_encoder),
            "content_channels": int(content_encoder.channels) if content_encoder is not None else None,
            "has_content_latent": content_encoder is not None,
            "content_frame_dtype": config.content_frame_dtype,
            "content_frame_index": content_frame_index(config.frames),
            "source": config.source,
            "shard_size": config.shard_size,
        }

    @torch.no_grad()
    def encode(self, clips: list[Clip]) -> list[ShardRecord]:
        """Clips of one size -> records. The posterior noise of each clip is seeded by
        (seed, item, window), so the result does not depend on batching or on the process count."""
        c, vae = self.config, self.vae
        video = torch.stack([clip.video for clip in clips]).to(vae.device)       # B 3 T H W
        dist = vae.encode(video).latent_dist
        if c.latent == "sample":
            noise = torch.stack([_record_noise(c.seed, clip.meta, dist.mean.shape[1:]) for clip in clips])
            z = dist.mean + dist.std * noise.to(dist.mean)                        # B C t h w
        else:
            z = dist.mode()
        latent = vae.normalize_latent(z).float().cpu()                           # B C t h w, layer-normed
        frame = video[:, :, content_frame_index(video.shape[2])].float()          # B 3 H W
        text = self.text_encoder.encode([clip.caption for clip in clips])
        lengths = text.mask.sum(dim=1)                                            # B
        if not torch.equal(text.mask, torch.arange(text.mask.shape[1], device=text.mask.device) < lengths[:, None]):
            raise ConfigError(f"text encoder {c.text_encoder!r} pads on the left; latent shards store the "
                              "real tokens as a prefix and need right padding")
        semantic = self.semantic_encoder.encode(frame) if self.semantic_encoder is not None else None
        content = None
        if self.content_encoder is not None:
            # The release saves an SD-VAE posterior sample (z_2d); its std is tiny.
            generator = torch.Generator(device=self.content_encoder.device).manual_seed(
                _seed_of(c.seed, clips[0].meta, salt=1))
            content = self.content_encoder.encode(frame, sample=c.latent == "sample", generator=generator)
        stored_frame = content_frame_to_stored(frame, c.content_frame_dtype).cpu()
        records = []
        for b, clip in enumerate(clips):
            meta = {**clip.meta, "content_frame_index": content_frame_index(c.frames),
                    "latent_shape": list(latent.shape[1:])}
            records.append(ShardRecord(
                latent=latent[b], content_frame=stored_frame[b], text=text.tokens[b, : int(lengths[b])].float().cpu(),
                meta=meta,
                semantic=semantic[b].float().cpu() if semantic is not None else None,
                content_latent=content[b].float().cpu() if content is not None else None,
            ))
        return records


def _name(spec: str | None, encoder) -> str | None:
    return None if encoder is None else spec or type(encoder).__name__


def _seed_of(seed: int, meta: dict, salt: int = 0) -> int:
    return int(np.random.SeedSequence([seed, int(meta["item"]), int(meta["window"]), salt]).generate_state(1)[0])


def _record_noise(seed: int, meta: dict, shape: torch.Size) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(_seed_of(seed, meta)))


# ------------------------------------------------------------------------------------ driver


def shard_plan(num_items: int, shard_size: int, rank: int, world_size: int) -> list[list[int]]:
    """The items of each shard of process `rank`: items i % world_size == rank, in chunks."""
    mine = list(range(rank, num_items, world_size))
    return [mine[lo : lo + shard_size] for lo in range(0, len(mine), shard_size)]


def _spec_info(config: ExtractConfig) -> dict[str, Any]:
    """What the config alone says about the shards (checked before any model is loaded)."""
    return {"vae": config.vae, "latent_mode": config.latent, "frames": config.frames,
            "text_encoder": config.text_encoder, "semantic_encoder": config.semantic_encoder,
            "content_encoder": config.content_encoder, "content_frame_dtype": config.content_frame_dtype,
            "source": config.source, "shard_size": config.shard_size}


def _check_existing(root: Path, info: dict[str, Any], world_size: int) -> None:
    """Refuse to add to a folder extracted with another setup or another process count."""
    for path in list_shards(root):
        try:
            header = read_header(path)
        except LatentShardError:
            continue  # a damaged shard of ours is redone; others are their owner's business
        for key, value in info.items():
            if key in header.info and key != "vae_config" and header.info[key] != value:
                raise ConfigError(
                    f"{root} holds shards extracted with {key}={header.info[key]!r} ({path.name}), this run has "
                    f"{key}={value!r}; one folder holds one setup: pass the same options or a new --output folder")
        if header.shard.get("world_size") != world_size:
            raise ConfigError(
                f"{path} was written by a {header.shard.get('world_size')}-process extraction, this one has "
                f"WORLD_SIZE={world_size}; resume with the same number of processes or use a new --output folder"
            )


def _complete(path: Path, items: list[int]) -> bool:
    try:
        return read_header(path).items == items
    except LatentShardError:
        return False


def _remove_stale_temp(root: Path, name: str) -> None:
    for tmp in root.glob(f".{name}.tmp-*"):
        logger.warning("removing %s left by a killed extraction; its shard is redone", tmp.name)
        tmp.unlink(missing_ok=True)


def extract(config: ExtractConfig, *, vae=None, text_encoder=None, semantic_encoder=None, content_encoder=None,
            rank: int | None = None, world_size: int | None = None, progress: bool = True) -> ExtractReport:
    """Run (or resume) this process's part of an extraction. Models not given are loaded from the
    config's specs; `rank` / `world_size` default to torchrun's RANK / WORLD_SIZE."""
    if rank is None or world_size is None:
        rank, world_size = process_rank()
    root = Path(config.output)
    root.mkdir(parents=True, exist_ok=True)
    device = config.device or (f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu")
    dtype = DTYPES[config.dtype]
    source = ClipSource(config)
    plan = shard_plan(len(source), config.shard_size, rank, world_size)
    report = ExtractReport(rank=rank, world_size=world_size, items=sum(len(p) for p in plan),
                           items_done_before=0, clips_written=0)
    _check_existing(root, _spec_info(config), world_size)
    todo = []
    for index, items in enumerate(plan):
        name = shard_name(world_size, rank, index)
        _remove_stale_temp(root, name)
        if _complete(root / name, items):
            report.shards_skipped += 1
            report.items_done_before += len(items)
        else:
            todo.append((index, items))
    if not todo:
        logger.info("rank %d: all %d shard(s) already complete in %s", rank, len(plan), root)
        return _finish(root, report)

    local = dict(local_files_only=config.local_files_only)
    vae = vae if vae is not None else load_vae(config.vae, device=device, dtype=dtype)
    if config.tiling:
        vae.enable_tiling()
    text_encoder = text_encoder or load_text_encoder(config.text_encoder, max_length=config.text_max_length,
                                                     device=device, dtype=dtype, **local)
    if semantic_encoder is None and config.semantic_encoder:
        semantic_encoder = build_semantic_encoder(config.semantic_encoder, device=device, dtype=dtype, **local)
    if content_encoder is None and config.content_encoder:
        content_encoder = build_content_encoder(config.content_encoder, device=device, dtype=dtype, **local)
    encoder = ClipEncoder(config, vae=vae, text_encoder=text_encoder, semantic_encoder=semantic_encoder,
                          content_encoder=content_encoder)
    _check_existing(root, encoder.info, world_size)

    started = time.time()
    bar = tqdm(total=report.items, initial=report.items_done_before, unit="item", disable=not progress,
               desc=f"extract r{rank}" if world_size > 1 else "extract", dynamic_ncols=True)
    for index, items in todo:
        records, failed = [], []
        pending: dict[tuple[int, ...], list[Clip]] = {}
        for item in items:
            try:
                clips = source.clips(item)
            except VideoInputError as error:
                logger.warning("skipping item %d: %s", item, error)
                failed.append({"item": item, "error": str(error)})
                clips = []
            for clip in clips:
                group = pending.setdefault(tuple(clip.video.shape), [])
                group.append(clip)
                if len(group) == config.batch_size:
                    records += encoder.encode(pending.pop(tuple(clip.video.shape)))
            bar.update(1)
        for group in pending.values():
            records += encoder.encode(group)
        records.sort(key=lambda r: (r.meta["item"], r.meta["window"]))
        write_shard(root / shard_name(world_size, rank, index), records, info=encoder.info, items=items,
                    failed=failed, shard={"rank": rank, "world_size": world_size, "index": index})
        report.shards_written += 1
        report.clips_written += len(records)
        report.failed += failed
        bar.set_postfix(clips=report.clips_written, failed=len(report.failed))
    bar.close()
    report.seconds = time.time() - started
    return _finish(root, report)


def _finish(root: Path, report: ExtractReport) -> ExtractReport:
    data = {**asdict(report), "clips_per_second": report.clips_per_second}
    atomic_write_text(root / f"extract-report-r{report.rank:03d}.json", json.dumps(data, indent=2) + "\n")
    return report
