"""The shipped built-in text-to-video pipeline (src/reducio/assets/pipeline-tiny/) loads and
generates what the prompt asks for, end to end through the CLI (the README's main command).

Skipped when the asset is not installed. The accuracy over 200 + 200 prompts is in
docs/generate.md; here one prompt, checked for what the pipeline gets right almost always
(background 1.00, colour 0.97 on the test split) by the shapes-world evaluator reading the
written video file.
"""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from reducio.cli import generate
from reducio.eval.shapes import ShapesEvaluator
from reducio.models.vae import ReducioVAE
from reducio.pipelines import ReducioTextToVideoPipeline
from reducio.pipelines.loading import MODEL_INDEX, builtin_pipeline_dir

pytestmark = pytest.mark.skipif(not (builtin_pipeline_dir() / MODEL_INDEX).is_file(),
                                reason="built-in pipeline not installed")

PROMPT = "a red circle moving right on a black background"


def test_builtin_pipeline_loads_as_float32_with_the_builtin_vae():
    pipe = ReducioTextToVideoPipeline.from_pretrained()
    i2v = pipe.image_pipeline
    assert i2v.defaults.num_inference_steps == 25
    assert {p.dtype for p in i2v.dit.parameters()} == {torch.float32}   # fp16 on disk
    assert {p.dtype for p in pipe.stage1.parameters()} == {torch.float32}
    # the VAE is a reference to the built-in "tiny" VAE, not a second copy of it
    reference = json.loads((builtin_pipeline_dir() / "vae/reference.json").read_text())
    assert reference == {"class": "ReducioVAE", "pretrained": "tiny"}
    tiny = ReducioVAE.from_pretrained("tiny")
    assert all(torch.equal(a, b) for a, b in zip(tiny.state_dict().values(), i2v.vae.state_dict().values()))


def test_readme_generate_command_draws_the_prompt(tmp_path):
    torch.set_num_threads(2)
    parser = argparse.ArgumentParser()
    generate.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out.mp4"
    args = parser.parse_args(["generate", PROMPT, "-o", str(out), "--seed", "0"])
    assert args.func(args) in (0, None)
    verdict = ShapesEvaluator().evaluate(str(out), PROMPT)
    assert verdict.background and verdict.colour, verdict.to_dict()


def test_builtin_stage1_reranker_is_shipped_off_and_the_cli_turns_it_on(tmp_path):
    """The reranker ships inside stage 1 with num_candidates 1 (plain sampling, the measured
    default); `--stage1-candidates 4` runs end to end through the CLI, and with 4 candidates
    stage 1 returns the best-scored of the 4 frames it samples for the prompt."""
    pipe = ReducioTextToVideoPipeline.from_pretrained()
    stage1 = pipe.stage1
    assert stage1.reranker is not None and stage1.config.num_candidates == 1
    torch.set_num_threads(2)
    parser = argparse.ArgumentParser()
    generate.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out.mp4"
    args = parser.parse_args(["generate", PROMPT, "-o", str(out), "--seed", "0", "--steps", "2",
                              "--stage1-candidates", "4"])
    assert args.func(args) in (0, None)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    candidates = stage1([PROMPT] * 4, generator=g(), num_candidates=1)             # 4 3 H W
    text = stage1.encode_prompt([PROMPT] * 4)
    with torch.no_grad():
        best = stage1.reranker.score(candidates, text.tokens, text.mask).argmax()
    assert torch.equal(stage1(PROMPT, generator=g(), num_candidates=4)[0], candidates[best])
    assert ShapesEvaluator().evaluate(str(out), PROMPT).background
