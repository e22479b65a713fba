"""Latent shards: what `reducio extract` writes and DiT training reads (docs/extract-latents.md).

One shard is one `.safetensors` file holding a variable number of *records* (one record = one
16-frame clip). Tensors are stored per record, so clips of different aspect buckets share a shard
and a reader loads exactly one clip's bytes:

    {k:05d}.latent          float16 (C, t, h, w)   motion latent, layer-normed (vae.normalize_latent)
    {k:05d}.content_frame   uint8 / float16 (3, H, W)  the content frame, the middle one
                                                    (`content_frame_index`; uint8 0..255,
                                                    float16 in [-1, 1])
    {k:05d}.text            float16 (n, D)         the caption's n real token states (padding cut)
    {k:05d}.semantic        float16 (N, Ds)        optional: image-semantic tokens of the content frame
    {k:05d}.content_latent  float16 (Cc, H/8, W/8) optional: content-encoder latent, unscaled

String metadata: `reducio_format`, `schema_version`, `info` (JSON: what produced the shard and must
match across a dataset: VAE id and config hash, latent mode, encoders, frame count...),
`records` (JSON list, per clip: caption, source, frame indices, fps, size, bucket...), `items`
(JSON list of the extraction items this shard covers, failed ones included), `failed` and
`shard` (rank, world size, index).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate

from reducio.data.buckets import BucketBatchSampler
from reducio.errors import ConfigError, VideoInputError
from reducio.loading.saving import atomic_write
from reducio.models.vae.config import VAEConfig

FORMAT = "reducio-latent-shard"
SCHEMA_VERSION = 1
SHARD_GLOB = "shard-*.safetensors"
# Keys of `info` that every shard of one dataset must agree on (a reader refuses a mix).
COMPAT_KEYS = ("vae", "vae_config_hash", "latent_mode", "latent_channels", "frames", "text_encoder",
               "text_dim", "text_max_length", "semantic_encoder", "content_encoder", "content_frame_dtype")
OPTIONAL_TENSORS = ("semantic", "content_latent")


class LatentShardError(VideoInputError):
    """A latent shard is missing, unreadable, of an unknown schema or inconsistent with its dataset."""


@dataclass
class ShardRecord:
    """One clip as stored (see the module docstring for dtypes)."""

    latent: torch.Tensor          # C t h w
    content_frame: torch.Tensor   # 3 H W
    text: torch.Tensor            # n D
    meta: dict[str, Any]
    semantic: torch.Tensor | None = None        # N Ds
    content_latent: torch.Tensor | None = None  # Cc H/8 W/8


@dataclass(frozen=True)
class ShardHeader:
    """A shard's metadata, read without touching its tensors."""

    path: Path
    schema_version: int
    info: dict[str, Any]
    records: list[dict[str, Any]]
    items: list[int]
    failed: list[dict[str, Any]] = field(default_factory=list)
    shard: dict[str, int] = field(default_factory=dict)


def shard_name(world_size: int, rank: int, index: int) -> str:
    """File name of shard `index` of process `rank` in a `world_size`-process extraction."""
    return f"shard-w{world_size:03d}-r{rank:03d}-{index:06d}.safetensors"


def record_key(k: int, name: str) -> str:
    return f"{k:05d}.{name}"


def content_frame_to_float(frame: torch.Tensor) -> torch.Tensor:
    """Stored content frame (uint8 0..255 or float16 in [-1, 1]) -> float32 in [-1, 1]."""
    if frame.dtype == torch.uint8:
        return frame.float().div_(127.5).sub_(1.0)
    return frame.float()


def content_frame_to_stored(frame: torch.Tensor, dtype: str) -> torch.Tensor:
    """float (..., 3, H, W) in [-1, 1] -> "uint8" (exact for frames decoded from 8-bit video) or "fp16"."""
    if dtype == "uint8":
        return ((frame.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if dtype == "fp16":
        return frame.to(torch.float16)
    raise ConfigError(f"content_frame_dtype must be 'uint8' or 'fp16', got {dtype!r}")


# ------------------------------------------------------------------------------------ writing


def write_shard(path: str | Path, records: list[ShardRecord], *, info: dict[str, Any], items: list[int],
                failed: list[dict[str, Any]] | None = None, shard: dict[str, int] | None = None) -> Path:
    """Write one shard atomically (temp file + fsync + rename: a killed writer leaves no shard)."""
    tensors: dict[str, torch.Tensor] = {}
    for k, record in enumerate(records):
        tensors[record_key(k, "latent")] = record.latent.detach().to("cpu", torch.float16).contiguous()
        tensors[record_key(k, "content_frame")] = record.content_frame.detach().cpu().contiguous()
        tensors[record_key(k, "text")] = record.text.detach().to("cpu", torch.float16).contiguous()
        for name in OPTIONAL_TENSORS:
            value = getattr(record, name)
            if value is not None:
                tensors[record_key(k, name)] = value.detach().to("cpu", torch.float16).contiguous()
    metadata = {
        "reducio_format": FORMAT,
        "schema_version": str(SCHEMA_VERSION),
        "info": json.dumps(info, sort_keys=True),
        "records": json.dumps([r.meta for r in records]),
        "items": json.dumps([int(i) for i in items]),
        "failed": json.dumps(failed or []),
        "shard": json.dumps(shard or {}),
    }

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=metadata)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    return atomic_write(path, write)


# ------------------------------------------------------------------------------------ reading


def read_header(path: str | Path) -> ShardHeader:
    """Parse and check a shard's metadata; LatentShardError names what is wrong and the fix."""
    path = Path(path)
    if not path.is_file():
        raise LatentShardError(f"{path}: latent shard not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise LatentShardError(f"{path}: not a readable safetensors shard ({error}); delete it and run "
                               "`reducio extract` again (it redoes missing shards)") from None
    if meta.get("reducio_format") != FORMAT:
        raise LatentShardError(f"{path}: not a reducio latent shard (reducio_format="
                               f"{meta.get('reducio_format')!r}, expected {FORMAT!r})")
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        raise LatentShardError(f"{path}: schema_version {meta.get('schema_version')!r} is not an integer") from None
    if version > SCHEMA_VERSION:
        raise LatentShardError(
            f"{path}: latent shard schema version {version} is newer than this reducio reads "
            f"(up to {SCHEMA_VERSION}); upgrade reducio, or re-extract the shards with this version"
        )
    if version < 1:
        raise LatentShardError(f"{path}: invalid schema_version {version}")
    try:
        return ShardHeader(path=path, schema_version=version, info=json.loads(meta["info"]),
                           records=json.loads(meta["records"]), items=json.loads(meta["items"]),
                           failed=json.loads(meta.get("failed", "[]")), shard=json.loads(meta.get("shard", "{}")))
    except (KeyError, json.JSONDecodeError) as error:
        raise LatentShardError(f"{path}: damaged shard metadata ({error}); delete the file and re-extract") from None


def list_shards(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise LatentShardError(f"latent folder {root} not found; create it with `reducio extract --output {root} ...`")
    return sorted(root.glob(SHARD_GLOB))


def check_compatible(reference: dict[str, Any], info: dict[str, Any], where: str, against: str) -> None:
    """Raise LatentShardError when `info` differs from `reference` on a COMPAT_KEYS entry."""
    for key in COMPAT_KEYS:
        if reference.get(key) != info.get(key):
            raise LatentShardError(
                f"{where} was extracted with {key}={info.get(key)!r} but {against} has {key}={reference.get(key)!r}; "
                "one dataset must come from one VAE / latent mode / encoder setup: extract into separate folders"
            )


def shard_vae_config(info: dict[str, Any]) -> VAEConfig:
    """The config of the VAE the shards were extracted with (their `info["vae_config"]`). Shards
    written without it record only its `latent_channels`, which is then all the config holds
    (what `reducio.models.compatibility.check_dit_fits_vae` reads)."""
    if "vae_config" in info:
        return VAEConfig.from_dict(info["vae_config"])
    if "latent_channels" not in info:
        raise LatentShardError("the shards' info names neither the VAE's config nor its latent_channels; "
                               "re-extract them with `reducio extract`")
    return VAEConfig(latent_channels=int(info["latent_channels"]))


class LatentShardDataset(Dataset):
    """Every record of every shard under `root`; items are dicts ready for the DiT objective.

    Items: "latent" (C, t, h, w), "content_frame" (3, H, W) in [-1, 1], "text" (L, D) zero-padded to
    the extraction's max length with "text_mask" (L,) bool, "semantic" / "content_latent" when
    stored, "caption" (str) and "index" (int). Floating tensors come in `dtype`.

    Memory-light: only headers are read up front (captions and bucket sizes kept); tensors are read
    per item through `safe_open` (memory-mapped), keeping at most `max_open` files open per process.
    """

    def __init__(self, root: str | Path, *, dtype: torch.dtype = torch.float32, max_open: int = 8) -> None:
        self.root = Path(root)
        self.dtype = dtype
        self.max_open = max_open
        paths = list_shards(self.root)
        if not paths:
            raise LatentShardError(f"no latent shards ({SHARD_GLOB}) in {self.root}; run `reducio extract "
                                   f"--output {self.root} ...` first")
        self.paths: list[Path] = []
        self.index: list[tuple[int, int]] = []  # (shard, record)
        self.captions: list[str] = []
        self.sizes: list[tuple[int, int]] = []   # content frame (H, W) = the clip's bucket
        self.failed = 0
        self.info: dict[str, Any] = {}
        for path in paths:
            header = read_header(path)
            if not self.info:
                self.info = header.info
            else:
                check_compatible(self.info, header.info, str(path), str(paths[0]))
            self.failed += len(header.failed)
            shard = len(self.paths)
            self.paths.append(path)
            for k, record in enumerate(header.records):
                self.index.append((shard, k))
                self.captions.append(str(record.get("caption", "")))
                self.sizes.append((int(record["height"]), int(record["width"])))
        if not self.index:
            raise LatentShardError(f"the shards in {self.root} hold no clips ({self.failed} failed items); "
                                   "check the extraction report")
        self.has = {name: bool(self.info.get(f"has_{name}")) for name in OPTIONAL_TENSORS}
        self._handles: OrderedDict[int, Any] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"] = OrderedDict()  # open files never travel to DataLoader workers
        return state

    def _handle(self, shard: int):
        if self._pid != os.getpid():  # forked worker: the parent's handles are not ours
            self._handles, self._pid = OrderedDict(), os.getpid()
        if shard in self._handles:
            self._handles.move_to_end(shard)
            return self._handles[shard]
        try:
            handle = safe_open(str(self.paths[shard]), framework="pt")
        except (SafetensorError, OSError) as error:
            raise LatentShardError(f"{self.paths[shard]}: cannot open ({error})") from None
        self._handles[shard] = handle
        while len(self._handles) > self.max_open:
            self._handles.popitem(last=False)
        return handle

    def __getitem__(self, i: int) -> dict[str, Any]:
        shard, k = self.index[i]
        handle = self._handle(shard)
        text = handle.get_tensor(record_key(k, "text"))                     # n D
        length = int(self.info["text_max_length"])
        tokens = torch.zeros(length, text.shape[1], dtype=self.dtype)     # L D
        tokens[: text.shape[0]] = text[:length].to(self.dtype)
        item: dict[str, Any] = {
            "latent": handle.get_tensor(record_key(k, "latent")).to(self.dtype),              # C t h w
            "content_frame": content_frame_to_float(
                handle.get_tensor(record_key(k, "content_frame"))).to(self.dtype),            # 3 H W
            "text": tokens,
            "text_mask": torch.arange(length) < text.shape[0],                                # L
            "caption": self.captions[i],
            "index": i,
        }
        for name in OPTIONAL_TENSORS:
            if self.has[name]:
                item[name] = handle.get_tensor(record_key(k, name)).to(self.dtype)
        return item

    def record(self, i: int) -> dict[str, Any]:
        """The stored metadata of item `i` (source path, frame indices, fps, size, bucket...)."""
        shard, k = self.index[i]
        return read_header(self.paths[shard]).records[k]

    def bucket_keys(self) -> list[tuple[int, int]]:
        """Each item's (height, width): items with equal keys have equal tensor shapes."""
        return list(self.sizes)


class BucketGroupedDataset(Dataset):
    """Items are whole batches of `group_size` clips of one aspect bucket (for mixed-size shards).

    The shared training loop batches items with a plain sampler, so clips of different sizes must
    already be grouped: train with `data.batch_size=1` over this dataset and undo the extra axis
    with `ungroup`. Groups are reshuffled per epoch (`set_epoch`, seeded by (seed, epoch)); each
    bucket's remainder is dropped.
    """

    def __init__(self, dataset: LatentShardDataset, group_size: int, *, seed: int = 0, shuffle: bool = True) -> None:
        self.dataset = dataset
        self.sampler = BucketBatchSampler(dataset.bucket_keys(), group_size, shuffle=shuffle, seed=seed,
                                          drop_last=True)
        if len(self.sampler) == 0:
            raise ConfigError(f"no aspect bucket holds {group_size} clips (bucket sizes: "
                              f"{ {k: len(v) for k, v in self.sampler.groups.items()} }); lower data.bucket_group")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.groups = list(iter(self.sampler))

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return default_collate([self.dataset[j] for j in self.groups[i]])


def ungroup(batch: dict[str, Any]) -> dict[str, Any]:
    """A loader batch of BucketGroupedDataset items (B, G, ...) -> a flat batch (B*G, ...).

    A batch of plain items (latent of 4 dims per clip) is returned unchanged.
    """
    if batch["latent"].ndim != 6:
        return batch
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            out[key] = value.flatten(0, 1)
        elif isinstance(value, list) and value and isinstance(value[0], (list, tuple)):
            # default_collate transposes a list field: value[g][b] is clip g of batch item b.
            out[key] = [value[g][b] for b in range(len(value[0])) for g in range(len(value))]
        else:
            out[key] = value
    return out
