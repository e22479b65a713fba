"""scripts/ holds no logic: each script is a documented sequence of `reducio` commands (and the
shell around them), so what it does is package code with tests. Checked here: every script parses
(`bash -n`) and none runs inline Python (a heredoc, `python -c`, `python -`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "scripts").rglob("*.sh"))
INLINE = re.compile(r"<<-?\s*['\"]?\w+|\bpython3?\s+(-c\b|-\s|-$)", re.MULTILINE)


def test_there_are_scripts_to_check():
    assert any(path.name == "train_builtin_pipeline.sh" for path in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_parses_and_runs_no_inline_code(script):
    text = script.read_text()
    inline = [text[: m.start()].count("\n") + 1 for m in INLINE.finditer(text)]
    assert not inline, f"{script.name}: inline code at line(s) {inline}; make it a reducio command"
    if shutil.which("bash"):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_the_pattern_finds_inline_python():
    assert INLINE.search("python - \"$tmp\" <<'PY'\nprint(1)\nPY\n")
    assert INLINE.search("python -c 'print(1)'")
    assert not INLINE.search("python3 -m reducio.cli.main bench \"$@\"")
