"""The `reducio` command table: every command's help comes from its light parser (no torch), and
every command names an implementation module that exists and has `run(args)`."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

from reducio.cli.main import build_parser


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every leaf command (e.g. ("eval", "pipeline")) -> its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(command_paths(sub, prefix + (name,)))
    return found or {prefix: parser}


def test_every_command_prints_its_help_without_importing_torch():
    paths = [list(path) for path in command_paths(build_parser())]
    code = ("import json, sys\n"
            "from reducio.cli.main import main\n"
            "for path in json.loads(sys.argv[1]):\n"
            "    try:\n        main(path + ['--help'])\n    except SystemExit as stop:\n"
            "        assert stop.code == 0, (path, stop.code)\n"
            "print('torch' in sys.modules, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(paths)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.split()[-1] == "False", "a command's parser imported torch"
    assert len(paths) > 20 and result.stdout.count("usage: reducio ") == len(paths)
    assert ["assemble"] in paths and ["data", "reweight"] in paths and ["eval", "pipeline"] in paths


def test_every_command_names_an_implementation_with_run():
    for path, parser in command_paths(build_parser()).items():
        module = parser.get_default("run")
        assert isinstance(module, str) and module.startswith("reducio.cli.run."), path
        assert callable(getattr(importlib.import_module(module), "run", None)), (path, module)
