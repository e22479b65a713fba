"""`reducio data synth|probe|reweight`: generate the synthetic shapes world; inspect video files;
copy a latent-shard folder with its two-object records repeated (the parser; the work is
`reducio.cli.run.data_synth`, `reducio.cli.run.data_probe` and `reducio.cli.run.data_reweight`)."""

from __future__ import annotations

from reducio.cli.arguments import integer, non_negative_int, positive_int, positive_number


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="generate synthetic data, inspect videos, reweight latent shards")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    synth = actions.add_parser(
        "synth", help="write shapes-world clips (lossless video files + captions.jsonl)",
        description="Write clips of the synthetic shapes world (docs/synthetic-world.md).",
    )
    synth.add_argument("-o", "--output", required=True, help="output folder")
    synth.add_argument("--count", type=positive_int, required=True, help="number of clips")
    synth.add_argument("--split", default="train", choices=("train", "validation", "test", "heldout"))
    synth.add_argument("--size", type=integer(32), default=64, help="frame side S, a multiple of 32 (default 64)")
    synth.add_argument("--frames", type=positive_int, default=16, help="frames per clip (default 16)")
    synth.add_argument("--seed-offset", type=non_negative_int, default=0,
                       help="first clip index within the split (clip i has seed split_offset + i)")
    synth.add_argument("--fps", type=positive_number, default=16, help="frame rate stored in the files")
    synth.add_argument("--format", default="mp4", choices=("mp4", "mkv", "webm", "mov", "gif", "png"),
                       help="container (png = one folder of frames per clip)")
    synth.add_argument("--lossy", action="store_true", help="yuv420p H.264/VP9 instead of lossless RGB")
    synth.add_argument("--no-verify", action="store_true", help="skip decoding each file to check its pixels")
    synth.set_defaults(run="reducio.cli.run.data_synth")

    probe = actions.add_parser("probe", help="print frame rate, frame count, size and duration of videos")
    probe.add_argument("inputs", nargs="+", help="files, folders or globs")
    probe.set_defaults(run="reducio.cli.run.data_probe")

    reweight = actions.add_parser(
        "reweight", help="copy a latent-shard folder, repeating the records whose caption names two objects",
        description="Copy the latent shards of SOURCE (written by `reducio extract`) into the new folder "
                    "OUTPUT, each record whose caption names two objects written --two-object-copies times "
                    "in a row; records are copied bit for bit, in order (docs/train-dit.md).",
    )
    reweight.add_argument("source", metavar="SOURCE", help="latent-shard folder (shard-*.safetensors)")
    reweight.add_argument("output", metavar="OUTPUT", help="new (or empty) output folder")
    reweight.add_argument("--two-object-copies", type=positive_int, default=3, metavar="N",
                          help="times each two-object record appears (default 3)")
    reweight.add_argument("--shard-size", type=positive_int, default=256, metavar="N",
                          help="records per output shard (default 256)")
    reweight.set_defaults(run="reducio.cli.run.data_reweight")
