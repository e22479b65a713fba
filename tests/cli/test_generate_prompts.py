"""`reducio generate` with the built-in model: unknown words named on stderr, vocabulary in --help."""

from __future__ import annotations

import logging

import pytest

from reducio.cli.main import build_parser, main
from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES


def test_out_of_world_prompt_is_named_and_the_clip_still_written(tmp_path, caplog):
    """The built-in pipeline normalises the prompt itself (tests/pipelines/test_world_prompts.py);
    through the CLI its warning (logged, on stderr outside pytest) names the unknown words and the
    way out."""
    out = tmp_path / "x.mp4"
    with caplog.at_level(logging.WARNING):
        assert main(["generate", "A pink circle moving sideways on a black background", "-o", str(out),
                     "--steps", "1", "--stage1-steps", "1"]) == 0
    assert "unknown word(s): pink, sideways" in caplog.text and "--pipeline" in caplog.text
    assert out.is_file()


def test_help_lists_the_vocabulary(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in (*COLOURS, *SHAPES, *DIRECTIONS, *BACKGROUNDS):
        assert word in text
    assert "colour: " + ", ".join(COLOURS) in text
