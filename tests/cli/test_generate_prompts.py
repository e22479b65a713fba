"""`reducio generate` with the built-in model: prompts normalised, unknown words named, vocabulary in --help."""

from __future__ import annotations

import pytest

from reducio.cli.main import build_parser, load_command
from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES


class Loaded(Exception):
    """Raised right after the prompts are prepared: the test stops before any model loads."""


@pytest.fixture
def parse_and_run(monkeypatch):
    """Run `reducio generate ARGV` until its prompts are ready for the model; returns the parsed
    arguments as the pipeline would receive them (None when the built-in prompt step did not run)."""
    from reducio.cli.run import generate

    real = generate._builtin_prompts
    calls = []

    def prepare_then_stop(args):
        real(args)
        calls.append(args)
        raise Loaded

    monkeypatch.setattr(generate, "_builtin_prompts", prepare_then_stop)

    def run(argv):
        args = build_parser().parse_args(["generate", *argv])
        with pytest.raises(Exception) as raised:   # Loaded, or the failed load of a missing --pipeline
            load_command(args).run(args)
        assert (raised.type is Loaded) == bool(calls)
        return args if calls else None

    return run


def test_typed_prompt_reaches_the_model_canonical_and_without_warning(parse_and_run, tmp_path, capsys):
    args = parse_and_run(["A red circle moving right on a black background.", "-o", str(tmp_path / "x.mp4"),
                          "--negative-prompt", "A Grey Square"])
    assert args.prompt == "a red circle moving right on a black background"
    assert args.negative_prompt == "a gray square"
    assert "warning" not in capsys.readouterr().err


def test_warning_names_the_unknown_words(parse_and_run, tmp_path, capsys):
    args = parse_and_run(["A pink circle moving sideways on a black background", "-o", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    assert "unknown word(s): pink, sideways" in err and "--pipeline" in err
    assert args.prompt == "a pink circle moving sideways on a black background"


def test_known_words_in_the_wrong_order_are_explained(parse_and_run, tmp_path, capsys):
    parse_and_run(["on a black background a red circle moving right", "-o", str(tmp_path / "x.mp4")])
    assert "its words are known but not in the order" in capsys.readouterr().err


def test_a_pipeline_of_your_own_gets_the_prompt_as_typed(parse_and_run, tmp_path, capsys):
    assert parse_and_run(["A Cat, on a sofa!", "-o", str(tmp_path / "x.mp4"), "--pipeline", str(tmp_path)]) is None
    assert "warning" not in capsys.readouterr().err


def test_help_lists_the_vocabulary(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in (*COLOURS, *SHAPES, *DIRECTIONS, *BACKGROUNDS):
        assert word in text
    assert "colour: " + ", ".join(COLOURS) in text
