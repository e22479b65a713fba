"""Reweighting a latent-shard folder: a copy in which the records whose caption names two objects
appear several times (`reducio data reweight`, docs/train-dit.md).

The built-in DiT bound motions to the wrong object in two-object scenes; its last fine-tune drew
the two-object clips 3x as often from such a copy (scripts/train_builtin_pipeline.sh two-object).

Records are copied bit for bit (same tensors, same per-record metadata) and in the source's order,
each two-object record followed by its repeats; every output shard keeps the `info` block of the
source shard being read when it was written, so the copy trains exactly like the source apart from
how often each record is drawn. Output shards are `shard_name(1, 0, index)` with `items` empty and
`shard` = {"rank": 0, "world_size": 1, "index": index}.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from reducio.data.latents import (
    OPTIONAL_TENSORS,
    SHARD_GLOB,
    LatentShardError,
    ShardRecord,
    check_compatible,
    list_shards,
    read_header,
    record_key,
    shard_name,
    write_shard,
)
from reducio.errors import ConfigError, OutputPathError


@dataclass(frozen=True)
class ReweightReport:
    """What `reweight_two_object_records` read and wrote."""

    one_object: int        # source records with one object
    two_object: int        # source records with two objects
    two_object_copies: int
    shards: int            # shards written
    output: Path

    @property
    def records(self) -> int:
        """Records written."""
        return self.one_object + self.two_object * self.two_object_copies

    @property
    def two_object_share(self) -> float:
        """Fraction of the written records that show two objects."""
        return self.two_object * self.two_object_copies / self.records


def names_two_objects(caption: str) -> bool:
    """Whether a caption names two objects: the shapes world joins its two objects with " and "
    (`reducio.data.synthetic.vocab.caption`); no colour, shape, direction or background holds it."""
    return " and " in caption


def reweight_two_object_records(source: str | Path, output: str | Path, *, two_object_copies: int = 3,
                                shard_size: int = 256) -> ReweightReport:
    """Copy the shards of `source` into the new folder `output`, each record whose caption names two
    objects (`names_two_objects`) written `two_object_copies` times in a row, `shard_size` records
    per output shard.

    Raises ConfigError for a count below 1, LatentShardError when `source` is missing, holds no
    shards or no records, or mixes extraction setups, OutputPathError when `output` is a file or a
    folder that is not empty.
    """
    if two_object_copies < 1 or shard_size < 1:
        raise ConfigError(f"two_object_copies and shard_size must be >= 1, got {two_object_copies} / {shard_size}")
    sources = list_shards(source)
    if not sources:
        raise LatentShardError(f"{source} holds no latent shards ({SHARD_GLOB}); run `reducio extract "
                               f"--output {source} ...` first")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{out} is an existing file; the output of `data reweight` is a new folder")
    if out.is_dir() and any(out.iterdir()):
        raise OutputPathError(f"{out} is not empty; give a new folder (the copies would mix with what it holds)")
    headers = [read_header(path) for path in sources]
    for header in headers[1:]:
        check_compatible(headers[0].info, header.info, str(header.path), str(sources[0]))
    if not any(header.records for header in headers):
        raise LatentShardError(f"the shards in {source} hold no clips; check the extraction report")
    out.mkdir(parents=True, exist_ok=True)

    pending: list[ShardRecord] = []
    index, counts = 0, {1: 0, 2: 0}
    info: dict[str, Any] = {}

    def flush() -> None:
        nonlocal pending, index
        write_shard(out / shard_name(1, 0, index), pending, info=info, items=[],
                    shard={"rank": 0, "world_size": 1, "index": index})
        pending, index = [], index + 1

    for header in headers:
        info = header.info
        with safe_open(str(header.path), framework="pt") as handle:
            keys = set(handle.keys())
            for k, meta in enumerate(header.records):
                record = ShardRecord(
                    latent=handle.get_tensor(record_key(k, "latent")),                # C t h w
                    content_frame=handle.get_tensor(record_key(k, "content_frame")),  # 3 H W
                    text=handle.get_tensor(record_key(k, "text")),                    # n D
                    meta=meta,
                    **{name: handle.get_tensor(record_key(k, name)) for name in OPTIONAL_TENSORS
                       if record_key(k, name) in keys})
                objects = 2 if names_two_objects(str(meta.get("caption", ""))) else 1
                counts[objects] += 1
                for copy in range(two_object_copies if objects == 2 else 1):
                    # each repeat owns its tensors: safetensors refuses tensors that share memory
                    pending.append(record if copy == 0 else dataclasses.replace(
                        record, **{name: value.clone() for name, value in vars(record).items()
                                   if isinstance(value, torch.Tensor)}))
                    if len(pending) == shard_size:
                        flush()
    if pending:
        flush()
    return ReweightReport(one_object=counts[1], two_object=counts[2], two_object_copies=two_object_copies,
                          shards=index, output=out)
