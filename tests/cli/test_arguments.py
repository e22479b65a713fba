"""Numeric options are refused at parse time: one line naming the option, the value and the range."""

from __future__ import annotations

import argparse

import pytest

from reducio.cli.arguments import integer, non_negative_number, number, positive_int, seed
from reducio.cli.main import build_parser, main


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e400", "-0.5", "x"])
def test_guidance_type_refuses_non_finite_and_negative(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a finite number >= 0"):
        non_negative_number(text)


def test_guidance_below_one_stays_valid():
    assert non_negative_number("0.5") == 0.5 and non_negative_number("0") == 0.0


@pytest.mark.parametrize("factory, text, message", [
    (positive_int, "0", "must be an integer >= 1, got 0"),
    (positive_int, "2.5", "must be an integer >= 1, got '2.5'"),
    (seed, "-1", "must be an integer >= 0 and <= 9223372036854775807, got -1"),
    (integer(16, 64), "65", "must be an integer >= 16 and <= 64, got 65"),
    (number(above=0.0), "0", "must be a finite number > 0, got 0"),
    (number(maximum=1.0), "2", "must be a finite number <= 1, got 2"),
])
def test_range_messages(factory, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        factory(text)


# One case per command: every command's numbers go through the shared types.
@pytest.mark.parametrize("argv, option, value", [
    (["generate", "p", "-o", "x.mp4", "--guidance", "nan"], "--guidance", "nan"),
    (["generate", "p", "-o", "x.mp4", "--stage1-guidance", "inf"], "--stage1-guidance", "inf"),
    (["generate", "p", "-o", "x.mp4", "--image-guidance", "-2"], "--image-guidance", "-2"),
    (["generate", "p", "-o", "x.mp4", "--steps", "0"], "--steps", "0"),
    (["generate", "p", "-o", "x.mp4", "--stage1-candidates", "0"], "--stage1-candidates", "0"),
    (["generate", "p", "-o", "x.mp4", "--fps", "nan"], "--fps", "nan"),
    (["generate", "p", "-o", "x.mp4", "--seed", "-1"], "--seed", "-1"),
    (["generate", "p", "-o", "x.mp4", "--frames", "0"], "--frames", "0"),
    (["reconstruct", "a.mp4", "-o", "b.mp4", "--start", "-1"], "--start", "-1"),
    (["reconstruct", "a.mp4", "-o", "b.mp4", "--batch-size", "0"], "--batch-size", "0"),
    (["encode", "a.mp4", "-o", "b.safetensors", "--fps", "inf"], "--fps", "inf"),
    (["decode", "a.safetensors", "-o", "b.mp4", "--batch-size", "-4"], "--batch-size", "-4"),
    (["data", "synth", "-o", "d", "--count", "0"], "--count", "0"),
    (["data", "synth", "-o", "d", "--count", "2", "--size", "16"], "--size", "16"),
    (["extract", "--synthetic", "train", "-o", "d", "--shard-size", "0"], "--shard-size", "0"),
    (["train", "vae", "--max-steps", "0"], "--max-steps", "0"),
    (["eval", "recon", "--synthetic", "test", "-o", "d", "--count", "nan"], "--count", "nan"),
    (["bench", "vae", "--repeats", "0"], "--repeats", "0"),
])
def test_cli_refuses_bad_numbers_in_one_line(argv, option, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage" not in err and "Traceback" not in err
    assert f"argument {option}: must be " in err and value in err.split("got ")[-1] and ">" in err


def test_good_numbers_still_parse():
    args = build_parser().parse_args(["generate", "p", "-o", "x.mp4", "--guidance", "0.5",
                                      "--stage1-guidance", "1", "--seed", "104", "--fps", "8"])
    assert (args.guidance, args.stage1_guidance, args.seed, args.fps) == (0.5, 1.0, 104, 8.0)
