import pytest
import torch
from dit_helpers import make_inputs, randomize, run, tiny_config

from reducio.diffusion import DiffusionConfig, make_objective
from reducio.errors import ShapeError
from reducio.models.dit import ReducioDiT


@pytest.mark.parametrize("attention", ["3d", "2d+1d"])
@pytest.mark.parametrize("patch,grid", [((1, 1, 1), (4, 2, 2)), ((1, 2, 2), (4, 4, 2)),
                                        ((2, 1, 1), (4, 2, 3))])
def test_output_has_the_latent_shape(attention, patch, grid):
    config = tiny_config(attention=attention, patch_size=patch)
    model = randomize(ReducioDiT(config))
    inputs = make_inputs(config, grid=grid)
    out = run(model, inputs)
    assert out.shape == inputs["latent"].shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("attention", ["3d", "2d+1d"])
def test_fresh_model_predicts_exactly_zero(attention):
    config = tiny_config(attention=attention)
    model = ReducioDiT(config)
    out = run(model, make_inputs(config))
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("attention", ["3d", "2d+1d"])
def test_fresh_blocks_are_the_identity(attention):
    config = tiny_config(attention=attention)
    model = ReducioDiT(config)
    seen = []
    for block in model.blocks:
        block.register_forward_hook(lambda mod, args, out: seen.append((args[0], out)))
    run(model, make_inputs(config))
    assert len(seen) == config.depth
    for block_in, block_out in seen:
        assert torch.equal(block_in, block_out)


@pytest.mark.parametrize("attention", ["3d", "2d+1d"])
def test_batch_of_two_equals_two_batches_of_one(attention):
    config = tiny_config(attention=attention)
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config, batch=2, text_len=9)
    assert inputs["text_mask"].sum(1).tolist() == [9, 7]  # different text lengths
    drop_image = torch.tensor([False, True])
    both = run(model, inputs, drop_image=drop_image)
    for i in range(2):
        single = {k: v[i:i + 1] for k, v in inputs.items()}
        out = run(model, single, drop_image=drop_image[i:i + 1])
        torch.testing.assert_close(both[i:i + 1], out, rtol=0, atol=1e-5)


def test_padded_text_tokens_have_no_effect():
    config = tiny_config()
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config, batch=2, text_len=9)
    before = run(model, inputs)
    changed = dict(inputs)
    changed["text"] = torch.where(inputs["text_mask"][..., None], inputs["text"], 1e3)
    torch.testing.assert_close(run(model, changed), before, rtol=0, atol=1e-6)
    # and the text matters where it is not padding
    changed["text"] = inputs["text"] + 1
    assert not torch.allclose(run(model, changed), before, atol=1e-4)


def test_dropping_a_condition_equals_leaving_it_out():
    config = tiny_config()
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config)
    no_text = {k: v for k, v in inputs.items() if k not in ("text", "text_mask")}
    torch.testing.assert_close(run(model, inputs, drop_text=True), run(model, no_text),
                               rtol=0, atol=1e-6)
    no_image = {k: v for k, v in inputs.items() if k not in ("semantic", "content")}
    torch.testing.assert_close(run(model, inputs, drop_image=True), run(model, no_image),
                               rtol=0, atol=1e-6)
    # per-sample: only sample 1 drops its text
    mixed = run(model, inputs, drop_text=torch.tensor([False, True]))
    torch.testing.assert_close(mixed[0], run(model, inputs)[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(mixed[1], run(model, no_text)[1], rtol=0, atol=1e-6)


def test_unconditional_config_runs_without_cross_attention():
    config = tiny_config(text_dim=None, semantic_dim=None, content_channels=None)
    model = randomize(ReducioDiT(config))
    assert all(block.cross_attn is None for block in model.blocks)
    inputs = make_inputs(config)
    assert run(model, inputs).shape == inputs["latent"].shape


def test_gradient_checkpointing_gives_the_same_output_and_gradients():
    config = tiny_config(attention="2d+1d")
    model = randomize(ReducioDiT(config)).train()
    inputs = make_inputs(config)
    out = run(model, inputs)
    out.square().mean().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.enable_gradient_checkpointing()
    out2 = run(model, inputs)
    out2.square().mean().backward()
    torch.testing.assert_close(out2, out)
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(p.grad, g)


def test_scalar_timestep_and_bool_flags_broadcast():
    config = tiny_config()
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config)
    inputs["timestep"] = torch.tensor([250, 250])
    expected = run(model, inputs, drop_text=torch.tensor([True, True]))
    inputs["timestep"] = 250
    torch.testing.assert_close(run(model, inputs, drop_text=True), expected, rtol=0, atol=0)


@pytest.mark.parametrize("objective", ["epsilon", "flow"])
def test_adamw_steps_lower_the_loss_on_a_fixed_batch(objective):
    torch.manual_seed(0)
    config = tiny_config()
    model = ReducioDiT(config).train()
    diffusion = make_objective(DiffusionConfig(objective=objective))
    inputs = make_inputs(config, batch=4)
    latent = inputs.pop("latent")
    inputs.pop("timestep")
    batch = diffusion.prepare(latent, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = diffusion.loss(model(batch.noisy, batch.timesteps, **inputs).sample, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # zero-initialised output: the first steps can only move the output layer, so the fall is slow
    assert losses[1] < losses[0] and losses[-1] < 0.97 * losses[0], losses


def test_error_messages_name_the_problem():
    config = tiny_config()
    model = ReducioDiT(config)
    inputs = make_inputs(config)
    with pytest.raises(ShapeError, match="text must be"):
        run(model, {**inputs, "text": torch.zeros(2, 7, 5)})
    with pytest.raises(ShapeError, match="text_mask"):
        run(model, {**inputs, "text_mask": torch.ones(2, 3, dtype=torch.bool)})
    with pytest.raises(ShapeError, match="aspect"):
        run(model, {**inputs, "content": torch.zeros(2, 3, 8, 16)})
    with pytest.raises(ShapeError, match="timestep"):
        run(model, {**inputs, "timestep": torch.zeros(3)})
    with pytest.raises(ShapeError, match="drop_text"):
        run(model, inputs, drop_text=torch.zeros(3, dtype=torch.bool))
    no_text = ReducioDiT(tiny_config(text_dim=None))
    with pytest.raises(ShapeError, match="no text branch"):
        run(no_text, inputs)


@pytest.mark.slow
def test_compiled_model_matches_eager_and_keeps_its_position_cache_outside_the_graph():
    """torch.compile gives the eager output; the position embedding is built eagerly (a tensor
    cached from inside a CUDA-graphed region would be overwritten by the next replay)."""
    torch.manual_seed(0)
    model = randomize(ReducioDiT(tiny_config())).eval()
    inputs = make_inputs(model.arch)
    with torch.no_grad():
        eager = run(model, inputs)
        model._pos_cache.clear()
        compiled = torch.compile(model)
        first, second = run(compiled, inputs), run(compiled, inputs)
    torch.testing.assert_close(first, eager, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(second, eager, rtol=1e-4, atol=1e-4)
    (cached,) = model._pos_cache.values()
    assert not cached.requires_grad and cached.device.type == "cpu"
