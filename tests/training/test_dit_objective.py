"""DiTObjective on the shared loop: loss falls, CFG dropout, conditions, exact resume, `reducio train dit`."""

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import MICRO_DIT, HashText, micro_vae  # noqa: E402
from training_toys import run_cli  # noqa: E402

from reducio.conditioning import PatchPixelSemanticEncoder, PooledRGBContentEncoder  # noqa: E402
from reducio.pipelines.extract import ExtractConfig, extract  # noqa: E402
from reducio.data.latents import LatentShardDataset  # noqa: E402
from reducio.errors import ConfigError  # noqa: E402
from reducio.training.config import (  # noqa: E402
    DiTModelSection,
    DiTOptimSection,
    DiTTrainConfig,
    EMASection,
    LatentDataSection,
    LoggingSection,
    RunSection,
    SamplingSection,
    dit_config,
)
from reducio.training.data import first_items_batch  # noqa: E402
from reducio.training.dit_objective import DiTObjective, resolve_conditions  # noqa: E402
from reducio.training.logging import read_metrics  # noqa: E402
from reducio.training.loop import Trainer, make_accelerator  # noqa: E402


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """8 synthetic clips; `plain` stores no image features, `stored` stores the built-ins' outputs."""
    root = tmp_path_factory.mktemp("shards")
    vae = micro_vae()
    torch.set_num_threads(1)
    for name, extra in (("plain", {}), ("stored", dict(semantic_encoder="patch-pixel", content_encoder="pooled-rgb"))):
        config = ExtractConfig(output=str(root / name), source="synthetic", count=8, size=32, frames=8,
                               shard_size=4, vae="random:micro", text_encoder="hash", device="cpu", **extra)
        encoders = ({"semantic_encoder": PatchPixelSemanticEncoder(), "content_encoder": PooledRGBContentEncoder()}
                    if extra else {})
        extract(config, vae=vae, text_encoder=HashText(), rank=0, world_size=1, progress=False, **encoders)
    return root


def _config(root, **changes) -> DiTTrainConfig:
    base = dict(
        model=DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT)),
        data=LatentDataSection(root=str(root), batch_size=4, num_workers=0),
        optim=DiTOptimSection(lr=1e-3, eps=1e-8, weight_decay=0.0, warmup_steps=0, grad_clip=1.0),
        sampling=SamplingSection(steps=3),
        train=RunSection(max_steps=4, mixed_precision="no", gradient_checkpointing=False, cpu=True, log_every=1,
                         sample_every=0, save_every=2, keep_last=5),
        ema=EMASection(enabled=True, decay=0.9),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=2),
    )
    base.update(changes)
    return DiTTrainConfig(**base)


def _objective(config, info, **kwargs):
    objective = DiTObjective(config, info, vae=micro_vae(), **kwargs)
    objective.setup(make_accelerator(config.train))
    return objective


def test_training_lowers_the_fixed_noise_loss_on_a_fixed_batch(shards):
    dataset = LatentShardDataset(shards / "plain")
    config = _config(shards / "plain")
    torch.manual_seed(0)
    objective = _objective(config, dataset.info)
    batch = first_items_batch(dataset, 4)
    dit = objective.dit
    latent, conditions = batch["latent"], objective.conditions(batch)

    def fixed_loss():
        dit.eval()
        with torch.no_grad():
            value = objective._fixed_noise_loss(dit, latent, conditions, torch.Generator().manual_seed(0))
        dit.train()
        return value

    before = fixed_loss()
    logs = [objective.training_step(batch, step) for step in range(25)]
    after = fixed_loss()
    assert after < 0.7 * before, (before, after)
    assert all(torch.isfinite(torch.tensor(r["loss/total"])) for r in logs)


def test_condition_dropout_rates_and_flags_reach_the_dit(shards):
    dataset = LatentShardDataset(shards / "plain")
    config = _config(shards / "plain", diffusion={"text_drop_prob": 0.3, "image_drop_prob": 0.6})
    torch.manual_seed(0)
    objective = _objective(config, dataset.info)
    drop_text, drop_image = objective._drops(20_000, torch.device("cpu"))
    assert abs(drop_text.float().mean() - 0.3) < 0.015 and abs(drop_image.float().mean() - 0.6) < 0.015
    assert abs((drop_text & drop_image).float().mean() - 0.18) < 0.015  # independent draws

    seen = []
    objective.dit.register_forward_hook(lambda m, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    batch = first_items_batch(dataset, 4)
    logs = [objective.training_step(batch, step) for step in range(40)]
    assert all(k["drop_text"].shape == (4,) and k["drop_image"].dtype == torch.bool for k in seen)
    text_rate = torch.cat([k["drop_text"] for k in seen]).float().mean()
    assert text_rate == pytest.approx(sum(r["cfg/text_dropped"] for r in logs) / len(logs))
    assert 0.15 < text_rate < 0.45
    # semantic and content were recomputed from the stored pixels by the built-ins
    assert seen[0]["semantic"].shape == (4, 64, 192) and seen[0]["content"].shape == (4, 3, 4, 4)


def test_a_dit_for_other_latents_is_refused_by_the_shards_vae(shards):
    """The shards' header records the VAE's config; the DiT must take its latents (4 channels)."""
    info = LatentShardDataset(shards / "plain").info
    assert info["vae_config"]["latent_channels"] == 4
    model = DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "in_channels": 8})
    refused = r"takes 8-channel latents but the VAE \('random:micro'.*makes 4-channel.*in_channels=4"
    with pytest.raises(ConfigError, match=refused):
        resolve_conditions(dit_config(model), info, model)
    # a header without the VAE's config: its recorded latent_channels, through the same check
    older = {k: v for k, v in info.items() if k != "vae_config"}
    with pytest.raises(ConfigError, match=refused):
        resolve_conditions(dit_config(model), older, model)
    fits = DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT))
    assert resolve_conditions(dit_config(fits), older, fits)["text"] == "stored"


def test_conditions_plan_and_recomputed_equal_stored(shards):
    plain, stored = LatentShardDataset(shards / "plain"), LatentShardDataset(shards / "stored")
    model = DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT))
    assert resolve_conditions(dit_config(model), plain.info, model) == {
        "text": "stored", "semantic": "patch-pixel", "content": "pooled-rgb"}
    assert resolve_conditions(dit_config(model), stored.info, model) == {
        "text": "stored", "semantic": "stored", "content": "stored"}
    wide = DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "semantic_dim": 1280})
    with pytest.raises(ConfigError, match="semantic branch takes width 1280.*do not store it.*semantic-encoder"):
        resolve_conditions(dit_config(wide), plain.info, wide)
    text = DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "text_dim": 384})
    with pytest.raises(ConfigError, match="text_dim is 384.*gives 16"):
        resolve_conditions(dit_config(text), plain.info, text)

    batch = first_items_batch(stored, 4)
    from_store = _objective(_config(shards / "stored"), stored.info).conditions(batch)
    recomputed = _objective(_config(shards / "stored", model=model.replace(semantic_encoder="patch-pixel",
                                                                           content_encoder="pooled-rgb")),
                            stored.info).conditions(batch)
    for name in ("semantic", "content"):
        assert torch.allclose(from_store[name], recomputed[name], atol=2e-3)  # float16 storage


def _fit(root, run_dir, max_steps, resume=None):
    torch.manual_seed(0)
    config = _config(root, train=RunSection(max_steps=max_steps, mixed_precision="no", gradient_checkpointing=False,
                                            cpu=True, log_every=1, sample_every=3, save_every=3, keep_last=5))
    dataset = LatentShardDataset(root)
    return Trainer(config, DiTObjective(config, dataset.info, vae=micro_vae()), dataset, run_dir=run_dir,
                   resume=resume).fit()


def test_resume_is_bitwise_equal_to_an_uninterrupted_run(shards):
    root = shards / "plain"
    runs = root.parent / "runs"
    # 8 clips, batch 4: 2 batches per epoch; the resume at step 3 is mid-epoch 1.
    _fit(root, runs / "straight", 6)
    _fit(root, runs / "split", 3)
    _fit(root, runs / "split", 6, resume="latest")
    keys = ["loss/total", "cfg/text_dropped", "cfg/image_dropped", "lr/dit"]
    straight = [r for r in read_metrics(runs / "straight") if "loss/total" in r]
    split = [r for r in read_metrics(runs / "split") if "loss/total" in r]
    assert [r["step"] for r in split] == [1, 2, 3, 4, 5, 6]
    assert [[r[k] for k in keys] for r in straight] == [[r[k] for k in keys] for r in split]
    for name in ("models/dit.safetensors", "ema.safetensors"):
        a = load_file(runs / "straight/checkpoints/step-00000006" / name)
        b = load_file(runs / "split/checkpoints/step-00000006" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    samples = [r for r in read_metrics(runs / "straight") if "sample/val_loss" in r]
    assert [r["step"] for r in samples] == [3, 6]
    assert (runs / "straight/samples/step-00000006.png").is_file()


def test_train_dit_cli_runs_resumes_and_exports(tmp_path, shards, capsys):
    from reducio.models.dit import ReducioDiT

    # Shards whose VAE spec the sampler can load by name (random:PRESET@SEED), as a user's would be.
    root = tmp_path / "shards"
    config = ExtractConfig(output=str(root), source="synthetic", count=4, size=32, frames=16, shard_size=4,
                           vae="random:tiny@0", text_encoder="hash", device="cpu")
    from reducio.pipelines.extract import load_vae

    extract(config, vae=load_vae("random:tiny@0"), text_encoder=HashText(), rank=0, world_size=1, progress=False)
    run = tmp_path / "run"
    common = ["--set", f"data.root={root}", "--set", "model.overrides.text_dim=16", "--set", "model.overrides.depth=2",
              "--set", "data.batch_size=2", "--set", "train.sample_every=2", "--set", "train.save_every=1",
              "--set", "train.log_every=1",
              "--set", "sampling.steps=2", "--set", "logging.progress_bar=false", "--set", "logging.tensorboard=false"]
    assert run_cli(["train", "dit", "--recipe", "dit-tiny-cpu", "--output-dir", str(run), "--max-steps", "2",
                 *common]) == 0
    assert "trained dit: steps 0 -> 2" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    assert saved["task"] == "dit" and saved["effective"]["conditions"] == {
        "text": "stored", "semantic": "patch-pixel", "content": "pooled-rgb"}
    assert (run / "samples/step-00000002-0.mp4").is_file()  # generated next to reference, decoded by the VAE
    assert run_cli(["train", "dit", "--output-dir", str(run), "--resume", "--max-steps", "3"]) == 0
    assert [r["step"] for r in read_metrics(run) if "loss/total" in r] == [1, 2, 3]
    dit = ReducioDiT.from_pretrained(run / "final")
    assert dit.config.depth == 2 and dit.config.text_dim == 16
    # fine-tuning from the exported model with --init
    assert run_cli(["train", "dit", "--recipe", "dit-tiny-cpu", "--output-dir", str(tmp_path / "ft"), "--max-steps", "1",
                 "--init", str(run / "final"), *common]) == 0
    assert json.loads((tmp_path / "ft/config.json").read_text())["model"]["init"] == str(run / "final")


def test_init_from_pixart_weights(tmp_path):
    from diffusers import PixArtTransformer2DModel

    from reducio.training.dit_objective import build_dit

    torch.manual_seed(0)
    pixart = PixArtTransformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=8, num_layers=2, num_attention_heads=4,
        attention_head_dim=16, cross_attention_dim=64, caption_channels=16, norm_type="ada_norm_single",
        norm_elementwise_affine=False, norm_eps=1e-6, use_additional_conditions=False)
    pixart.save_pretrained(tmp_path / "pixart" / "transformer")
    section = DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT), init=f"pixart:{tmp_path / 'pixart'}")
    dit = build_dit(section)
    assert torch.equal(dit.blocks[1].attn.to_q.weight, pixart.transformer_blocks[1].attn1.to_q.weight)
    assert torch.equal(dit.text_proj.linear_1.weight, pixart.caption_projection.linear_1.weight)
    # the config is still validated against the preset, and the objective knows every branch's input
    objective = DiTObjective(_config(tmp_path, model=section), {"latent_channels": 4, "text_dim": 16})
    assert objective.plan == {"text": "stored", "semantic": "patch-pixel", "content": "pooled-rgb"}


def test_fine_tune_init_takes_a_smaller_patch_and_refuses_other_overrides(tmp_path):
    """With model.init, model.overrides must match the loaded DiT (they used to be ignored), except
    a smaller patch_size, which maps the loaded weights."""
    from reducio.errors import ConfigError
    from reducio.training.dit_objective import build_dit

    from reducio.models.dit import DiTConfig, ReducioDiT

    saved = ReducioDiT(DiTConfig.preset("tiny").replace(**MICRO_DIT, patch_size=[1, 2, 2]))
    saved.save_pretrained(tmp_path / "d")
    dit = build_dit(DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "patch_size": [1, 1, 1]},
                                    init=str(tmp_path / "d")))
    assert tuple(dit.arch.patch_size) == (1, 1, 1)
    assert torch.equal(dit.blocks[0].attn.to_q.weight, saved.blocks[0].attn.to_q.weight)
    same = build_dit(DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT), init=str(tmp_path / "d")))
    assert tuple(same.arch.patch_size) == (1, 2, 2)
    with pytest.raises(ConfigError, match=r"model.overrides \['depth'\] cannot change the DiT loaded from"):
        build_dit(DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "depth": 3}, init=str(tmp_path / "d")))
    with pytest.raises(ConfigError, match=r"patch_size \[1, 4, 4\] cannot be derived .* \[1, 2, 2\]"):
        build_dit(DiTModelSection(preset="tiny", overrides={**MICRO_DIT, "patch_size": [1, 4, 4]},
                                  init=str(tmp_path / "d")))


def test_fsdp_in_one_process_names_the_launchers(shards, tmp_path):
    from reducio.errors import ConfigError

    config = _config(shards / "plain", train=RunSection(max_steps=1, mixed_precision="no",
                                                        gradient_checkpointing=False, cpu=True, fsdp=True))
    dataset = LatentShardDataset(shards / "plain")
    with pytest.raises(ConfigError, match="train.fsdp=true needs several processes.*torchrun --nproc_per_node"):
        Trainer(config, DiTObjective(config, dataset.info, vae=micro_vae()), dataset, run_dir=tmp_path).fit()
