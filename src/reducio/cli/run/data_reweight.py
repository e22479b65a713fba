"""`reducio data reweight`: copy a latent-shard folder, repeating the records whose caption names
two objects (reducio.data.latent_reweight)."""

from __future__ import annotations

import argparse

from reducio.data.latent_reweight import reweight_two_object_records


def run(args: argparse.Namespace) -> int:
    report = reweight_two_object_records(args.source, args.output, two_object_copies=args.two_object_copies,
                                         shard_size=args.shard_size)
    print(f"{report.one_object} one-object + {report.two_object} two-object records (x{report.two_object_copies}): "
          f"{report.records} records, two-object share {report.two_object_share:.2f}, {report.shards} shards "
          f"in {report.output}")
    return 0
