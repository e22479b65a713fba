"""CLIP score with a tiny randomly initialised CLIP saved to tmp_path (nothing downloaded)."""

from __future__ import annotations

import json
import string

import pytest
import torch

from reducio.errors import ModelNotFoundError, ShapeError
from reducio.eval.clip_score import CLIPScorer

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    # A character-level BPE vocabulary (no merges): enough to tokenise lower-case prompts.
    vocab = {c: i for i, c in enumerate(string.ascii_lowercase)}
    vocab.update({c + "</w>": len(vocab) + i for i, c in enumerate(string.ascii_lowercase)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=32, patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config)
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder, model


def test_score_is_100_times_clamped_cosine_averaged_over_frames(tiny_clip):
    folder, model = tiny_clip
    scorer = CLIPScorer.from_pretrained(folder)
    g = torch.Generator().manual_seed(1)
    video = torch.rand(2, 3, 4, 40, 48, generator=g) * 2 - 1
    prompts = ["a red circle moving left", "a blue square moving up"]
    scores = scorer.score(video, prompts)
    assert scores.shape == (2,)
    assert ((scores >= 0) & (scores <= 100)).all()
    # By hand for clip 1: the processor's pixels through the reference model's own embeddings.
    frames = [((f.permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy() for f in video[1].unbind(1)]
    inputs = scorer.processor(text=[prompts[1]], images=frames, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**inputs)
    image = out.image_embeds / out.image_embeds.norm(dim=-1, keepdim=True)
    text = out.text_embeds / out.text_embeds.norm(dim=-1, keepdim=True)
    expected = (100 * (image @ text.T).clamp(min=0)).mean()
    assert float(scores[1]) == pytest.approx(float(expected), abs=1e-3)


def test_one_prompt_for_a_batch_and_single_clip(tiny_clip):
    scorer = CLIPScorer.from_pretrained(tiny_clip[0])
    video = torch.rand(2, 3, 2, 32, 32) * 2 - 1
    both = scorer.score(video, "a green triangle moving down")
    assert torch.allclose(scorer.score(video[0], "a green triangle moving down"), both[:1])
    with pytest.raises(ShapeError, match="one prompt per clip"):
        scorer.score(video, ["only one"])


def test_missing_or_incomplete_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        CLIPScorer.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="CLIP"):
        CLIPScorer.from_pretrained(tmp_path / "half")
