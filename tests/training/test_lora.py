"""LoRA on the Reducio-DiT: zero-start, switching off and removal, the diffusers-format export and its
reload (ours and diffusers' own pipeline loader), exact resume in the shared loop, config errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import MICRO_DIT, HashText, micro_vae  # noqa: E402

from reducio.pipelines.extract import ExtractConfig, extract  # noqa: E402
from reducio.data.latents import LatentShardDataset  # noqa: E402
from reducio.errors import ConfigError  # noqa: E402
from reducio.models.dit import DiTConfig, ReducioDiT  # noqa: E402
from reducio.configs import apply_overrides  # noqa: E402
from reducio.training.config import (  # noqa: E402
    DiTModelSection,
    DiTOptimSection,
    DiTTrainConfig,
    EMASection,
    LatentDataSection,
    LoggingSection,
    LoRASection,
    RunSection,
    SamplingSection,
)
from reducio.training.dit_objective import DiTObjective  # noqa: E402
from reducio.training.logging import read_metrics  # noqa: E402
from reducio.training.lora import (  # noqa: E402
    LORA_WEIGHT_NAME,
    add_lora,
    load_lora_into_dit,
    lora_parameter_names,
    read_lora,
    remove_lora,
    save_lora,
    set_lora_enabled,
    set_lora_scale,
)
from reducio.training.loop import Trainer  # noqa: E402

CONFIG = DiTConfig.preset("tiny").replace(**MICRO_DIT)


def _dit(seed: int = 0) -> ReducioDiT:
    """A micro DiT with every weight random: the real init zeroes the output layer (output 0)."""
    torch.manual_seed(seed)
    dit = ReducioDiT(CONFIG)
    with torch.no_grad():
        for parameter in dit.parameters():
            parameter.normal_(0.0, 0.05)
    return dit.eval()


def _inputs():
    generator = torch.Generator().manual_seed(1)
    latent = torch.randn(2, 4, 2, 2, 2, generator=generator)                 # B C t h w
    text = torch.randn(2, 5, 16, generator=generator)                        # B L D
    return latent, torch.tensor([100.0, 600.0]), text


@torch.no_grad()
def _predict(dit) -> torch.Tensor:
    latent, t, text = _inputs()
    out = dit(latent, t, text=text)
    return out if isinstance(out, torch.Tensor) else out[0]


def _train_adapter(dit, steps: int = 3) -> None:
    latent, t, text = _inputs()
    params = [p for p in dit.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    target = torch.randn_like(latent)
    for _ in range(steps):
        out = dit(latent, t, text=text)
        out = out if isinstance(out, torch.Tensor) else out[0]
        loss = torch.nn.functional.mse_loss(out, target)
        loss.backward()
        opt.step()
        opt.zero_grad()


def test_zero_initialised_adapter_leaves_the_output_unchanged():
    dit = _dit()
    base = _predict(dit)
    add_lora(dit, LoRASection(rank=4))
    assert torch.equal(_predict(dit), base)
    trainable = [n for n, p in dit.named_parameters() if p.requires_grad]
    assert trainable and trainable == lora_parameter_names(dit)
    # q, k, v, out of self- and cross-attention and the MLP's two linears, in both blocks
    assert len(trainable) == 2 * 10 * CONFIG.depth


def test_trained_adapter_changes_the_output_and_switching_it_off_or_removing_it_restores_it():
    dit = _dit()
    base = _predict(dit)
    frozen = {n: p.detach().clone() for n, p in dit.named_parameters()}
    add_lora(dit, LoRASection(rank=4, alpha=8))
    _train_adapter(dit)
    adapted = _predict(dit)
    assert (adapted - base).abs().max() > 1e-3
    set_lora_enabled(dit, False)
    assert torch.equal(_predict(dit), base)
    set_lora_enabled(dit, True)
    assert torch.equal(_predict(dit), adapted)
    set_lora_scale(dit, 0.0)
    assert torch.equal(_predict(dit), base)
    remove_lora(dit)
    assert torch.equal(_predict(dit), base)
    assert not lora_parameter_names(dit)
    assert {n: p for n, p in dit.named_parameters()}.keys() == frozen.keys()
    assert all(torch.equal(p, frozen[n]) for n, p in dit.named_parameters())


def test_export_holds_only_prefixed_lora_tensors_and_reloads_into_a_fresh_dit(tmp_path):
    from peft import inject_adapter_in_model, set_peft_model_state_dict

    dit = _dit()
    add_lora(dit, LoRASection(rank=4, alpha=2, targets=("to_q", "to_v", "fc2")))
    _train_adapter(dit)
    adapted = _predict(dit)
    path = save_lora(dit, tmp_path / "adapter")
    assert path.name == LORA_WEIGHT_NAME and sorted(p.name for p in path.parent.iterdir()) == [LORA_WEIGHT_NAME]
    state = load_file(path)
    assert state and all(k.startswith("transformer.blocks.") and k.endswith((".lora_A.weight", ".lora_B.weight"))
                         for k in state)
    assert {k.split(".")[-3] for k in state} == {"to_q", "to_v", "fc2"}
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "pt"
    config = json.loads(metadata["lora_adapter_metadata"])
    assert config["transformer.r"] == 4 and config["transformer.lora_alpha"] == 2
    assert sorted(config["transformer.target_modules"]) == ["fc2", "to_q", "to_v"]

    # peft directly, as the pipeline's loader does after stripping the component prefix
    fresh = _dit()
    peft_state, peft_config = read_lora(path.parent)
    inject_adapter_in_model(peft_config, fresh)
    result = set_peft_model_state_dict(fresh, {k[len("transformer."):]: v for k, v in state.items()})
    assert not result.unexpected_keys
    assert torch.equal(_predict(fresh), adapted)
    # and our helper, with its scale
    other = _dit()
    load_lora_into_dit(other, path.parent)
    assert torch.equal(_predict(other), adapted)
    half = _dit()
    load_lora_into_dit(half, path, scale=0.0)
    assert torch.equal(_predict(half), _predict(_dit()))


def test_diffusers_pipeline_load_lora_weights_reads_the_export(tmp_path):
    from diffusers import DiffusionPipeline
    from diffusers.loaders.lora_pipeline import LTXVideoLoraLoaderMixin
    from diffusers.loaders.peft import PeftAdapterMixin

    dit = _dit()
    add_lora(dit, LoRASection(rank=4))
    _train_adapter(dit)
    adapted = _predict(dit)
    save_lora(dit, tmp_path)

    class Pipe(DiffusionPipeline, LTXVideoLoraLoaderMixin):
        def __init__(self, transformer):
            super().__init__()
            self.register_modules(transformer=transformer)

    cls = ReducioDiT if hasattr(ReducioDiT, "load_lora_adapter") else type("PeftDiT", (ReducioDiT, PeftAdapterMixin), {})
    torch.manual_seed(0)
    transformer = cls(CONFIG)
    transformer.load_state_dict(_dit().state_dict())
    Pipe(transformer).load_lora_weights(str(tmp_path))
    assert torch.equal(_predict(transformer), adapted)


def test_targets_that_match_nothing_and_unknown_keys_fail_naming_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match="to_q"):
        add_lora(_dit(), LoRASection(rank=2, targets=("query",)))
    base = DiTTrainConfig(model=DiTModelSection(preset="tiny", init=str(tmp_path)))
    with pytest.raises(ConfigError, match="valid keys at this level: rank, alpha, targets, dropout"):
        apply_overrides(base, ["lora.rnk=4"])
    with pytest.raises(ConfigError, match="valid keys: rank, alpha, targets, dropout"):
        DiTTrainConfig.from_dict({"model": {"init": str(tmp_path)}, "lora": {"rank": 4, "scale": 2}})
    with pytest.raises(ConfigError, match="model.init is not set"):
        DiTObjective(DiTTrainConfig(model=DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT)),
                                    lora=LoRASection(rank=4)), {"latent_channels": 4, "text_dim": 16})
    with pytest.raises(ConfigError, match="lora.rank must be >= 0"):
        apply_overrides(base, ["lora.rank=-1"])
    config = apply_overrides(base, ["lora.rank=8", "lora.alpha=16", "lora.targets=[to_q,to_k]"])
    assert config.lora == LoRASection(rank=8, alpha=16.0, targets=("to_q", "to_k"))


# ------------------------------------------------------------------------------- the loop


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """8 micro clips as shards, and a saved micro DiT as the frozen base."""
    root = tmp_path_factory.mktemp("lora")
    torch.set_num_threads(1)
    config = ExtractConfig(output=str(root / "shards"), source="synthetic", count=8, size=32, frames=8,
                           shard_size=4, vae="random:micro", text_encoder="hash", device="cpu")
    extract(config, vae=micro_vae(), text_encoder=HashText(), rank=0, world_size=1, progress=False)
    _dit().save_pretrained(root / "base")
    return root


def _fit(root, run_dir, max_steps, resume=None):
    torch.manual_seed(0)
    config = DiTTrainConfig(
        model=DiTModelSection(init=str(root / "base")),
        data=LatentDataSection(root=str(root / "shards"), batch_size=4, num_workers=0),
        optim=DiTOptimSection(lr=1e-2, eps=1e-8, weight_decay=0.0, warmup_steps=0, grad_clip=1.0),
        sampling=SamplingSection(steps=2),
        train=RunSection(max_steps=max_steps, mixed_precision="no", gradient_checkpointing=True, cpu=True,
                         log_every=1, sample_every=3, save_every=3, keep_last=5),
        ema=EMASection(enabled=True, decay=0.9),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=2),
        lora=LoRASection(rank=2),
    )
    dataset = LatentShardDataset(config.data.root)
    return Trainer(config, DiTObjective(config, dataset.info, vae=micro_vae()), dataset, run_dir=run_dir,
                   resume=resume).fit()


def test_lora_training_resumes_exactly_keeps_the_base_and_exports_only_the_adapter(lora_run):
    runs = lora_run / "runs"
    # 8 clips, batch 4: the resume at step 3 is mid-epoch 1
    summary = _fit(lora_run, runs / "straight", 6)
    _fit(lora_run, runs / "split", 3)
    _fit(lora_run, runs / "split", 6, resume="latest")
    keys = ["loss/total", "cfg/text_dropped", "cfg/image_dropped", "lr/dit"]
    straight = [[r[k] for k in keys] for r in read_metrics(runs / "straight") if "loss/total" in r]
    split = [[r[k] for k in keys] for r in read_metrics(runs / "split") if "loss/total" in r]
    assert len(straight) == 6 and straight == split

    step6 = "checkpoints/step-00000006"
    for name in ("models/dit.safetensors", "ema.safetensors"):
        a, b = load_file(runs / "straight" / step6 / name), load_file(runs / "split" / step6 / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ema = load_file(runs / "straight" / step6 / "ema.safetensors")
    assert ema and all(".lora_" in k for k in ema)            # the EMA averages the adapter only
    weights = load_file(runs / "straight" / step6 / "models/dit.safetensors")
    base = _dit().state_dict()                                 # what the fixture saved as the base
    for key, value in base.items():                            # the frozen base did not move
        stored = weights.get(key, weights.get(key.replace(".weight", ".base_layer.weight")
                                              .replace(".bias", ".base_layer.bias")))
        assert torch.equal(stored, value), key
    assert summary.effective["lora"]["rank"] == 2
    assert summary.effective["lora"]["parameters"] == sum(v.numel() for k, v in ema.items())

    final = runs / "straight" / "final"
    assert sorted(p.name for p in final.iterdir()) == [LORA_WEIGHT_NAME]
    exported = load_file(final / LORA_WEIGHT_NAME)
    # the export is the EMA adapter, under the pipeline's component prefix
    assert {k: v for k, v in exported.items()}.keys() == {f"transformer.{k.replace('.default', '')}" for k in ema}
    assert all(torch.equal(exported[f"transformer.{k.replace('.default', '')}"], v) for k, v in ema.items())

    # an intermediate checkpoint exports the same way (EMA adapter by default, raw on request)
    from reducio.training.export import export_checkpoint

    done = export_checkpoint(runs / "straight" / step6, lora_run / "exported")
    again = load_file(lora_run / "exported" / LORA_WEIGHT_NAME)
    assert done["weights"] == "ema" and again.keys() == exported.keys()
    assert all(torch.equal(again[k], exported[k]) for k in again)
    raw = export_checkpoint(runs / "straight" / step6, lora_run / "exported-raw", ema=False)
    raw_adapter = load_file(lora_run / "exported-raw" / LORA_WEIGHT_NAME)
    assert raw["weights"] == "raw" and raw_adapter.keys() == exported.keys()
    assert all(torch.equal(raw_adapter[f"transformer.{k.replace('.default', '')}"], v)
               for k, v in weights.items() if ".lora_" in k)
