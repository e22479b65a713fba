"""A pipeline of the synthetic shapes world (the built-in one) reads its canonical captions: the
prompt a user types is normalised before the text encoder sees it, and one outside the world is
named in a warning."""

from __future__ import annotations

import logging

import pytest
import torch

from reducio.pipelines import ReducioTextToVideoPipeline

CANONICAL = "a red circle moving right on a black background"


@pytest.fixture(scope="module")
def pipe():
    return ReducioTextToVideoPipeline.from_pretrained("tiny")


def embeds(pipe, prompt, negative=None):
    text, mask, negative_text, _ = pipe.encode_prompt(prompt, negative_prompt=negative, device=torch.device("cpu"))
    return text, mask, negative_text


def test_the_built_in_pipeline_declares_its_world(pipe):
    assert pipe.config.shapes_world_prompts is True


def test_case_punctuation_and_spellings_reach_the_model_canonical(pipe, caplog):
    with caplog.at_level(logging.WARNING):
        typed = embeds(pipe, "  A Red Circle, moving RIGHT on a black background.", negative="A Grey Square")
    canonical = embeds(pipe, CANONICAL, negative="a gray square")
    for a, b in zip(typed, canonical):
        assert torch.equal(a, b)
    assert not caplog.records


def test_unknown_words_are_named(pipe, caplog):
    with caplog.at_level(logging.WARNING):
        embeds(pipe, "A pink circle moving sideways on a black background")
    assert "unknown word(s): pink, sideways" in caplog.text and "--pipeline" in caplog.text


def test_known_words_in_the_wrong_order_are_explained(pipe, caplog):
    with caplog.at_level(logging.WARNING):
        embeds(pipe, "on a black background a red circle moving right")
    assert "its words are known but not in the order" in caplog.text


def test_a_pipeline_of_another_world_gets_the_prompt_as_typed(pipe, caplog):
    pipe.register_to_config(shapes_world_prompts=False)
    try:
        with caplog.at_level(logging.WARNING):
            grey, gray = embeds(pipe, "a grey square")[0], embeds(pipe, "a gray square")[0]
    finally:
        pipe.register_to_config(shapes_world_prompts=True)
    assert not torch.equal(grey, gray)
    assert not caplog.records


def test_a_folder_saved_before_the_key_existed_still_loads(tmp_path):
    """model_index.json written before `shapes_world_prompts` existed: the folder loads, and its
    prompts are read as typed (the key's default)."""
    import json
    import shutil

    from reducio.loading.sources import builtin_folder

    folder = tmp_path / "older"
    shutil.copytree(builtin_folder("pipeline", "tiny"), folder)
    index = json.loads((folder / "model_index.json").read_text())
    del index["shapes_world_prompts"]
    (folder / "model_index.json").write_text(json.dumps(index))
    older = ReducioTextToVideoPipeline.from_pretrained(folder)
    assert older.config.shapes_world_prompts is False
    assert older._prompts("A Grey Square") == ["A Grey Square"]
