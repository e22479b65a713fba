"""`reducio train export`: a checkpoint becomes the same model folder the run's final/ is."""

import json

import pytest
import torch
from safetensors.torch import load_file

from reducio.errors import CheckpointError
from reducio.models.vae import ReducioVAE
from reducio.training.export import export_checkpoint
from test_cli_train import SMALL, _run


def test_exported_checkpoint_equals_final_and_raw_differs(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(run), "--max-steps", "2",
                 "--set", "ema.start_step=0", "--set", "ema.decay=0.5", *SMALL]) == 0
    assert _run(["train", "export", str(run), "-o", str(tmp_path / "ema")]) == 0  # run folder: its latest
    assert "exported vae step 2 (ema weights)" in capsys.readouterr().out
    final, ema = load_file(run / "final/diffusion_pytorch_model.safetensors"), load_file(tmp_path / "ema/diffusion_pytorch_model.safetensors")
    assert final.keys() == ema.keys() and all(torch.equal(final[k], ema[k]) for k in final)
    assert ReducioVAE.from_pretrained(tmp_path / "ema").config.frames == 8

    done = export_checkpoint(run / "checkpoints/step-00000001", tmp_path / "raw", ema=False)
    assert (done["step"], done["weights"]) == (1, "raw")
    raw = load_file(tmp_path / "raw/diffusion_pytorch_model.safetensors")
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)


def test_export_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="is not a folder"):
        export_checkpoint(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        (tmp_path / "empty/checkpoints").mkdir(parents=True)
        export_checkpoint(tmp_path / "empty", tmp_path / "out")
    ckpt = tmp_path / "old/checkpoints/step-00000001"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text(json.dumps({"format_version": 1, "step": 1}))
    (ckpt / "config.json").write_text(json.dumps({"task": "vae", "effective": {}}))
    with pytest.raises(CheckpointError, match="does not record its architecture"):
        export_checkpoint(ckpt, tmp_path / "out")


def test_wrapper_prefix_is_dropped_only_when_it_makes_the_keys_match():
    from reducio.training.export import _unwrap

    expected = {"dit.a", "dit.b"}
    assert set(_unwrap({"generator.dit.a": 1, "generator.dit.b": 2}, expected)) == expected
    assert set(_unwrap({"dit.a": 1, "dit.b": 2}, expected)) == expected
    assert set(_unwrap({"x.dit.a": 1, "y.dit.b": 2}, expected)) == {"x.dit.a", "y.dit.b"}  # left to fail


def test_vae_checkpoint_without_recorded_architecture_uses_preset_and_overrides(tmp_path):
    from safetensors.torch import save_file

    from reducio.models.vae.config import VAEConfig
    from reducio.training.export import load_checkpoint_model

    config = VAEConfig.preset("tiny").replace(frames=8)
    ckpt = tmp_path / "checkpoints/step-00000003"
    (ckpt / "models").mkdir(parents=True)
    weights = {k: v.contiguous() for k, v in ReducioVAE(config).state_dict().items()}
    save_file(weights, ckpt / "models/vae.safetensors")
    (ckpt / "state.json").write_text(json.dumps({"format_version": 1, "step": 3}))
    (ckpt / "config.json").write_text(json.dumps(
        {"task": "vae", "model": {"preset": "tiny", "overrides": {"frames": 8}}, "effective": {}}))
    vae, info = load_checkpoint_model(tmp_path)  # the run folder: its latest checkpoint
    assert (info["step"], info["weights"]) == (3, "raw") and vae.config.frames == 8
    assert all(torch.equal(vae.state_dict()[k], weights[k]) for k in weights)


@pytest.mark.parametrize("dtype, stored", [("fp16", torch.float16), ("bf16", torch.bfloat16), (None, torch.float32)])
def test_export_stores_the_weights_in_the_asked_dtype_and_they_load_as_fp32(tmp_path, capsys, dtype, stored):
    from safetensors.torch import save_file

    from reducio.models.vae.config import VAEConfig

    ckpt = tmp_path / "run/checkpoints/step-00000002"
    (ckpt / "models").mkdir(parents=True)
    torch.manual_seed(0)
    vae = ReducioVAE(VAEConfig.preset("tiny").replace(frames=8))
    weights = {k: v.contiguous() for k, v in vae.state_dict().items()}
    save_file(weights, ckpt / "models/vae.safetensors")
    (ckpt / "state.json").write_text(json.dumps({"format_version": 1, "step": 2}))
    (ckpt / "config.json").write_text(json.dumps(
        {"task": "vae", "model": {"preset": "tiny", "overrides": {"frames": 8}}, "effective": {}}))
    out = tmp_path / "out"
    assert _run(["train", "export", str(tmp_path / "run"), "-o", str(out), *(["--dtype", dtype] if dtype else [])]) == 0
    assert f"(stored as {str(stored).removeprefix('torch.')})" in capsys.readouterr().out
    on_disk = load_file(out / "diffusion_pytorch_model.safetensors")
    assert on_disk.keys() == weights.keys()
    assert all(v.dtype == stored and torch.equal(v, weights[k].to(stored)) for k, v in on_disk.items())
    vae = ReducioVAE.from_pretrained(out)
    assert vae.dtype == torch.float32
    assert all(torch.equal(vae.state_dict()[k], weights[k].to(stored).float()) for k in weights)
