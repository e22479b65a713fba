"""The built-in stage-1 image generator: config, sampling, saving, the training loss."""

from __future__ import annotations

import copy

import pytest
import torch

from reducio.diffusion import DiffusionConfig
from reducio.errors import ConfigError, PipelineInputError
from reducio.models.frame_text_matcher import FrameTextMatcher
from reducio.pipelines import ReducioStage1Generator, Stage1Config

PROMPT = "a red circle moving right on a black background"


def test_config_json_round_trip_and_errors(tmp_path):
    config = Stage1Config.preset("tiny-image")
    config.to_json(tmp_path / "c.json")
    assert Stage1Config.from_json(tmp_path / "c.json") == config
    assert config.dit.patch_size == (1, 8, 8) and config.dit.semantic_dim is None
    with pytest.raises(ConfigError, match="unknown key colour in Stage1Config; valid keys"):
        Stage1Config.from_dict({**config.to_dict(), "colour": 1})
    with pytest.raises(ConfigError, match="valid presets: \\['tiny-image'\\]"):
        Stage1Config.preset("huge")
    with pytest.raises(ConfigError, match="in_channels must be 3"):
        config.replace(dit=config.dit.replace(in_channels=16))
    with pytest.raises(ConfigError, match="must equal dit.prediction_type"):
        config.replace(diffusion=DiffusionConfig(objective="epsilon"))


def test_sampling_shapes_determinism_and_guidance(stage1, text_encoder):
    stage1.set_text_encoder(text_encoder)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = stage1([PROMPT, PROMPT], generator=g(), num_inference_steps=3, guidance_scale=3.0)
    b = stage1([PROMPT, PROMPT], generator=g(), num_inference_steps=3, guidance_scale=3.0)
    c = stage1([PROMPT, PROMPT], generator=g(), num_inference_steps=3, guidance_scale=1.0)
    assert a.shape == (2, 3, 64, 64) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a[0], a[1])  # two draws from one generator
    wide = stage1(PROMPT, generator=g(), num_inference_steps=1, height=32, width=96)
    assert wide.shape == (1, 3, 32, 96)
    with pytest.raises(PipelineInputError, match="`height` must be a positive multiple of .* 8, got 60"):
        stage1(PROMPT, height=60)
    with pytest.raises(PipelineInputError, match="exactly one of `prompt` and `prompt_embeds`"):
        stage1(None)


def test_save_load_round_trip_excludes_the_text_encoder(stage1, text_encoder, tmp_path):
    stage1.set_text_encoder(text_encoder)
    assert not any(k.startswith("_text") or "text_encoder" in k for k in stage1.state_dict())
    stage1.save_pretrained(tmp_path / "s1")
    loaded = ReducioStage1Generator.from_pretrained(tmp_path / "s1")
    assert loaded.config == stage1.config
    loaded.set_text_encoder(text_encoder)
    a = stage1(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    b = loaded(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    assert torch.equal(a, b)


def test_epsilon_variant_samples(text_encoder):
    config = Stage1Config.preset("tiny-image")
    config = config.replace(dit=config.dit.replace(prediction_type="epsilon"),
                            diffusion=DiffusionConfig(objective="epsilon"))
    model = ReducioStage1Generator(config)
    model.set_text_encoder(text_encoder)
    out = model(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    assert out.shape == (1, 3, 64, 64) and torch.isfinite(out).all()


def _batch(text_encoder, n=4):
    from reducio.data.synthetic.world import make_clip

    clips = [make_clip(i) for i in range(n)]
    images = torch.stack([torch.from_numpy(c.video[7]).permute(2, 0, 1).float() / 127.5 - 1
                          for c in clips])
    text = text_encoder.encode([c.caption for c in clips])
    return images, text.tokens, text.mask


def test_training_loss_ignores_dropped_text(stage1, text_encoder):
    images, tokens, mask = _batch(text_encoder)
    loss = lambda t, drop: stage1.training_loss(  # noqa: E731
        images, t, mask, generator=torch.Generator().manual_seed(0), drop_text=drop)
    with torch.no_grad():
        assert torch.equal(loss(tokens, True), loss(tokens.flip(0), True))
        assert not torch.equal(loss(tokens, False), loss(tokens.flip(0), False))


def test_training_loss_falls_on_a_fixed_batch(text_encoder):
    torch.manual_seed(0)
    model = ReducioStage1Generator(Stage1Config.preset("tiny-image")).train()
    images, tokens, mask = _batch(text_encoder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def loss_at(seed):
        return model.training_loss(images, tokens, mask, generator=torch.Generator().manual_seed(seed),
                                   drop_text=False)

    with torch.no_grad():
        before = sum(loss_at(s).item() for s in range(4))
    for step in range(20):
        loss = loss_at(step % 4)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        after = sum(loss_at(s).item() for s in range(4))
    assert after < 0.8 * before  # 0.60 measured


def test_refiner_starts_as_identity_and_round_trips(stage1, text_encoder, tmp_path):
    """add_refiner keeps a trained model's output (zero-initialised last conv); once its weights
    move it changes the prediction, and save/load keeps it (config and weights)."""
    stage1 = copy.deepcopy(stage1)   # the fixture is shared: do not give it a refiner
    stage1.set_text_encoder(text_encoder)
    x, t = torch.randn(2, 3, 1, 64, 64), torch.tensor([300.0, 900.0])
    tokens = text_encoder.encode([PROMPT, PROMPT]).tokens
    with torch.no_grad():
        before = stage1.denoise(x, t, text=tokens)
        stage1.add_refiner(width=8, depth=3)
        assert stage1.config.refiner_width == 8 and stage1.config.refiner_depth == 3
        assert torch.equal(stage1.denoise(x, t, text=tokens), before)
        torch.nn.init.normal_(stage1.refiner.net[-1].weight, std=0.1)
        refined = stage1.denoise(x, t, text=tokens)
        assert not torch.allclose(refined, before)
        assert not torch.allclose(refined[:1], stage1.denoise(x[:1], t[1:], text=tokens[:1]))  # sees t
    with pytest.raises(ConfigError, match="already has a refiner"):
        stage1.add_refiner()
    stage1.save_pretrained(tmp_path / "s1")
    loaded = ReducioStage1Generator.from_pretrained(tmp_path / "s1").eval()
    assert loaded.config == stage1.config
    with torch.no_grad():
        assert torch.equal(loaded.denoise(x, t, text=tokens), refined)
    loaded.set_text_encoder(text_encoder)
    a = stage1(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    b = loaded(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="refiner_width must be >= 0"):
        Stage1Config.preset("tiny-image").replace(refiner_width=-1)


def test_refiner_gets_gradients_from_the_training_loss(text_encoder):
    model = ReducioStage1Generator(Stage1Config.preset("tiny-image").replace(refiner_width=8, refiner_depth=2))
    images, tokens, mask = _batch(text_encoder)
    model.training_loss(images, tokens, mask, generator=torch.Generator().manual_seed(0)).backward()
    assert model.refiner.net[-1].weight.grad.abs().sum() > 0   # the zero-initialised conv learns
    assert model.dit.final.linear.weight.grad.abs().sum() > 0


def _reranked(stage1, text_encoder, width=8, dim=16, candidates=3):
    gen = copy.deepcopy(stage1)
    gen.set_text_encoder(text_encoder)
    torch.manual_seed(5)
    gen.attach_reranker(FrameTextMatcher(384, dim=dim, width=width).eval(), num_candidates=candidates)
    return gen


def test_reranking_returns_the_best_scored_of_the_candidates(stage1, text_encoder):
    """num_candidates N samples N frames per prompt (rows b*N ... b*N+N-1 of the noise) and keeps
    the one the stored matcher scores highest against the prompt; N=1 is plain sampling."""
    gen = _reranked(stage1, text_encoder)
    prompts = [PROMPT, "a blue square moving up on a white background"]
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    # every candidate, sampled without reranking from the same noise and prompts in the same order
    everything = gen([p for p in prompts for _ in range(3)], generator=g(), num_inference_steps=2,
                     num_candidates=1)                                               # 6 3 H W
    chosen = gen(prompts, generator=g(), num_inference_steps=2)                     # config: N = 3
    text = text_encoder.encode([p for p in prompts for _ in range(3)])
    with torch.no_grad():
        scores = gen.reranker.score(everything, text.tokens, text.mask).view(2, 3)
    assert chosen.shape == (2, 3, 64, 64)
    for b in range(2):
        assert torch.equal(chosen[b], everything[3 * b + int(scores[b].argmax())])
    assert (scores.argmax(1) != 0).any()   # with these weights reranking changes some prompt's frame
    # N = 1 with a reranker stored is exactly plain sampling
    without = stage1(prompts, generator=g(), num_inference_steps=2)
    assert torch.equal(gen(prompts, generator=g(), num_inference_steps=2, num_candidates=1), without)


def test_reranker_round_trips_and_bad_candidate_counts_are_named(stage1, text_encoder, tmp_path):
    gen = _reranked(stage1, text_encoder, candidates=2)
    gen.save_pretrained(tmp_path / "s1")
    loaded = ReducioStage1Generator.from_pretrained(tmp_path / "s1").eval()
    assert loaded.config == gen.config and loaded.config.num_candidates == 2
    for name, value in gen.reranker.state_dict().items():
        assert torch.equal(loaded.reranker.state_dict()[name], value), name
    loaded.set_text_encoder(text_encoder)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded(PROMPT, generator=g(), num_inference_steps=2),
                       gen(PROMPT, generator=g(), num_inference_steps=2))
    stage1.set_text_encoder(text_encoder)
    with pytest.raises(PipelineInputError, match="`num_candidates` 4 needs a reranker.*use 1"):
        stage1(PROMPT, num_inference_steps=1, num_candidates=4)
    with pytest.raises(PipelineInputError, match="`num_candidates` must be an integer >= 1, got 0"):
        gen(PROMPT, num_inference_steps=1, num_candidates=0)
    with pytest.raises(ConfigError, match="num_candidates must be >= 1, and > 1 only with a reranker"):
        Stage1Config.preset("tiny-image").replace(num_candidates=3)
    with pytest.raises(ConfigError, match="reranker_width a positive multiple of 8"):
        Stage1Config.preset("tiny-image").replace(reranker_dim=16, reranker_width=12)
    with pytest.raises(ConfigError, match="matcher reads 32-d text tokens"):
        copy.deepcopy(stage1).attach_reranker(FrameTextMatcher(32, dim=16, width=8))
