"""`reducio` console script: one thin module per subcommand (parse -> config -> library call)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from reducio.cli.arguments import ReducioArgumentParser
from reducio.errors import ReducioError

# Each module defines `register(subparsers)`, which adds its parser and sets `func=run`.
SUBCOMMANDS = (
    "reconstruct",
    "edit",
    "transfer",
    "encode",
    "decode",
    "convert",
    "data",
    "train",
    "extract",
    "generate",
    "eval",
    "bench",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = ReducioArgumentParser(
        prog="reducio",
        description="Reducio: video generation from extremely compressed motion latents.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"reducio.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ReducioError as error:
        print(f"reducio {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
