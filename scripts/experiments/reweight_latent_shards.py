"""Copy a latent-shard folder, repeating the records whose caption names two objects (an
experiment: the built-in DiT binds directions to the wrong object in two-object scenes).

    python scripts/experiments/reweight_latent_shards.py data/latents/shapes-64-s11 \
        data/latents/shapes-64-s11-two3 --two-object-copies 3

Records are copied bit for bit (same tensors, same per-record metadata); the `info` block is kept,
so the copy trains exactly like the source apart from how often each record is drawn.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from safetensors import safe_open

from reducio.data.latents import OPTIONAL_TENSORS, LatentShardError, ShardRecord, list_shards, read_header, record_key, shard_name, write_shard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("--two-object-copies", type=int, default=3, help="times each two-object record appears")
    parser.add_argument("--shard-size", type=int, default=256)
    args = parser.parse_args()
    if args.two_object_copies < 1 or args.shard_size < 1:
        parser.error(f"--two-object-copies and --shard-size must be >= 1, got {args.two_object_copies} / {args.shard_size}")
    try:
        sources = list_shards(args.source)
    except LatentShardError as error:
        parser.error(str(error))
    if not sources:
        parser.error(f"{args.source} holds no latent shards (shard-*.safetensors); run `reducio extract` first")
    out = Path(args.output)
    if list_shards(out) if out.is_dir() else []:
        parser.error(f"{out} already holds shards; give a new folder (copies would mix with them)")
    out.mkdir(parents=True, exist_ok=True)
    pending, index, counts, info = [], 0, {1: 0, 2: 0}, None

    def flush():
        nonlocal pending, index
        write_shard(out / shard_name(1, 0, index), pending, info=info, items=[], shard={"rank": 0, "world_size": 1, "index": index})
        pending, index = [], index + 1

    for path in sources:
        header = read_header(path)
        info = header.info
        with safe_open(str(path), framework="pt") as handle:
            keys = set(handle.keys())
            for k, meta in enumerate(header.records):
                record = ShardRecord(
                    latent=handle.get_tensor(record_key(k, "latent")),
                    content_frame=handle.get_tensor(record_key(k, "content_frame")),
                    text=handle.get_tensor(record_key(k, "text")), meta=meta,
                    **{name: handle.get_tensor(record_key(k, name)) for name in OPTIONAL_TENSORS
                       if record_key(k, name) in keys})
                objects = 2 if " and " in meta["caption"] else 1
                counts[objects] += 1
                for copy in range(args.two_object_copies if objects == 2 else 1):
                    pending.append(record if copy == 0 else dataclasses.replace(   # safetensors refuses shared memory
                        record, **{name: value.clone() for name, value in vars(record).items()
                                   if isinstance(value, torch.Tensor)}))
                    if len(pending) == args.shard_size:
                        flush()
    if pending:
        flush()
    total = counts[1] + counts[2] * args.two_object_copies
    print(f"{counts[1]} one-object + {counts[2]} two-object records (x{args.two_object_copies}): "
          f"{total} records, two-object share {counts[2] * args.two_object_copies / total:.2f}, {index} shards in {out}")


if __name__ == "__main__":
    main()
