"""`reducio` console script.

Each subcommand is two modules: `reducio.cli.<name>` defines its arguments (`register(subparsers)`,
importing nothing heavy) and names, with `set_defaults(run="reducio.cli.run.<name>")`, the module
whose `run(args)` does the work. That module imports torch, diffusers and the models at its top;
`main` imports it only when its command runs, so `reducio --help` and argument errors come back
in a tenth of a second (torch is not imported) instead of the seconds that importing every model
takes (docs/decisions.md).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from reducio.cli.arguments import ReducioArgumentParser
from reducio.cli.demo import INSTALL as DEMO_INSTALL
from reducio.errors import ConfigError, ReducioError

# Each module defines `register(subparsers)`, which adds its parser and sets `run` to the name of
# the module that does the work.
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
    "assemble",
    "eval",
    "bench",
    "demo",
)


# Optional extras an implementation may import at its top: module -> (what it is, how to install it).
EXTRAS = {"gradio": ("Gradio", DEMO_INSTALL)}


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
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(load_command(args).run(args) or 0)
    except ReducioError as error:
        print(f"reducio {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def load_command(args: argparse.Namespace):
    """The module named by `args.run`, imported now (see the module docstring); a ConfigError
    saying how to install it when it needs an optional extra that is missing."""
    try:
        return importlib.import_module(args.run)
    except ImportError as error:
        extra = EXTRAS.get((error.name or "").split(".")[0])
        if extra is None:
            raise
        raise ConfigError(f"`reducio {args.command}` needs {extra[0]}, which is not installed: {extra[1]}") from None


if __name__ == "__main__":
    sys.exit(main())
