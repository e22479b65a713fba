"""ReducioVAE from official-format Lightning checkpoints and our own formats.

The checkpoints are synthetic: the tiny parity fixture's weights (produced by the official code)
wrapped the way the release stores them (Lightning dict, loss.* entries, pickled
hyper-parameters). Loading them must reproduce the fixture's reference reconstruction.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reducio.cli import main as cli
from reducio.loading.official import clean_official_state_dict
from reducio.loading.state_dict import compare_state_dict
from reducio.errors import CheckpointError, ModelNotFoundError, UnsafeCheckpointError
from reducio.models.modeling import instantiate_for_loading
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.models.vae.official_config import config_from_official_yaml
from reducio.models.vae.pretrained import official_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TINY = FIXTURES / "official_tiny"
TINY_YAML = TINY / "config.yaml"
ATOL = 2e-4


class OfficialHyperParams:
    """Stands for the OmegaConf DictConfig a real checkpoint pickles in hyper_parameters."""

    def __init__(self) -> None:
        self.ddconfig = {"ch": 32, "f_t": 2}
        self.lossconfig = {"target": "ldm.modules.losses.LPIPSWithDiscriminator"}


class WritesFileWhenLoaded:
    """A state-dict value whose unpickling runs code (creates `path`)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (WritesFileWhenLoaded, ("x",), {"path": self.path})

    def __setstate__(self, state: dict) -> None:
        Path(state["path"]).write_text("code ran")


@pytest.fixture(scope="module")
def tiny_weights() -> dict[str, torch.Tensor]:
    return load_file(TINY / "weights.safetensors")  # fp16 trainable weights, fp32 pos_embed


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return load_file(TINY / "io.safetensors")


def _loss_entries() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return {
        "loss.logvar": torch.zeros(()),
        "loss.perceptual_loss.scaling_layer.shift": torch.randn(1, 3, 1, 1, generator=gen),
        "loss.discriminator.main.0.weight": torch.randn(8, 3, 4, 4, generator=gen),
        "loss.discriminator.main.1.running_mean": torch.zeros(8),
    }


def write_official_checkpoint(path: Path, state_dict: dict, prefix: str = "") -> Path:
    """A Lightning-style checkpoint like the release's, with objects weights_only=True refuses."""
    weights = collections.OrderedDict((prefix + k, v) for k, v in state_dict.items())
    torch.save({
        "epoch": 12,
        "global_step": 40002,
        "pytorch-lightning_version": "2.0.1",
        "state_dict": weights,
        "hyper_parameters": {"config": OfficialHyperParams(), "args": argparse.Namespace(base="x.yaml")},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-5}]}],
        "lr_schedulers": [],
        "callbacks": {"ModelCheckpoint{'monitor': 'val/rec_loss'}": {"best_model_score": torch.tensor(0.1)}},
    }, path)
    return path


def _reconstruct(model: ReducioVAE, reference: dict[str, torch.Tensor], prefix: str = "") -> torch.Tensor:
    with torch.no_grad():
        return model.decode(reference[prefix + "latent_ln"], reference[prefix + "content_frame"]).sample


@pytest.mark.parametrize("prefix", ["", "module."])
def test_official_checkpoint_reproduces_fixture_recon(tmp_path, tiny_weights, reference, prefix):
    weights = {**tiny_weights, **_loss_entries()}
    path = write_official_checkpoint(tmp_path / "reducio-tiny.ckpt", weights, prefix)
    model = ReducioVAE.from_single_file(path, config=TINY_YAML)
    assert model.arch == config_from_official_yaml(TINY_YAML)
    assert model.dtype == torch.float32 and not model.training
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {f"decoder.{m}.fuse.0.pos_embed" for m in ("mid", "up.2", "up.3")}
    torch.testing.assert_close(_reconstruct(model, reference), reference["recon"], atol=ATOL, rtol=0)


def test_official_checkpoint_without_config_infers_the_architecture(tmp_path, tiny_weights):
    path = write_official_checkpoint(tmp_path / "tiny.ckpt", tiny_weights)
    model = ReducioVAE.from_pretrained(path)
    # The weights fix every size; the attention window (8 in the fixture) leaves no trace in them,
    # so it takes the release's value (128); tiling is a runtime setting, off by default.
    expected = config_from_official_yaml(TINY_YAML).replace(window_size=128)
    assert model.arch == expected and not model.use_tiling
    for key, value in tiny_weights.items():
        assert torch.equal(model.state_dict()[key], value.float()), key


@pytest.mark.parametrize("variant", ["ft4", "ft2"])
def test_released_key_lists_fit_the_detected_preset(variant):
    """Shapes-only (meta) stand-ins for the released checkpoints: detection picks the preset and
    the preset model accepts every key and shape strictly, without allocating 437M parameters."""
    listing = json.loads((FIXTURES / f"reducio-vae-{variant}-state-dict.json").read_text())
    state_dict = {k: torch.empty(shape, device="meta") for k, shape in listing["keys"].items()}
    state_dict |= {"loss.logvar": torch.empty((), device="meta")}
    cleaned = clean_official_state_dict({"state_dict": state_dict})
    config = official_config(cleaned)
    assert config == VAEConfig.preset(variant)
    model = instantiate_for_loading(ReducioVAE, config)
    report = compare_state_dict(model, cleaned)
    assert report.ok, report.format()
    assert sum(p.numel() for p in model.parameters()) == listing["total_params"]


def test_missing_key_fails_naming_it(tmp_path, tiny_weights):
    weights = dict(tiny_weights)
    del weights["decoder.up.2.fuse.0.attn.to_k.weight"]
    path = write_official_checkpoint(tmp_path / "missing.ckpt", weights)
    pattern = r"missing.ckpt[\s\S]*1 missing[\s\S]*decoder.up.2.fuse.0.attn.to_k.weight"
    with pytest.raises(CheckpointError, match=pattern):
        ReducioVAE.from_single_file(path, config=TINY_YAML)


def test_mis_shaped_key_fails_naming_it(tmp_path, tiny_weights):
    weights = dict(tiny_weights)
    weights["quant_conv.bias"] = torch.zeros(15)
    path = write_official_checkpoint(tmp_path / "misshaped.ckpt", weights)
    with pytest.raises(CheckpointError, match=r"quant_conv.bias: \[15\] vs \[16\]"):
        ReducioVAE.from_single_file(path, config=TINY_YAML)


def test_checkpoint_whose_weights_need_code_is_refused_without_running_it(tmp_path, tiny_weights):
    marker = tmp_path / "code-ran.txt"
    weights = dict(tiny_weights)
    weights["quant_conv.bias"] = WritesFileWhenLoaded(str(marker))
    path = write_official_checkpoint(tmp_path / "evil.ckpt", weights)
    with pytest.raises(UnsafeCheckpointError, match="quant_conv.bias"):
        ReducioVAE.from_single_file(path, config=TINY_YAML)
    assert not marker.exists()


def test_folder_and_single_file_round_trips_are_identical(tmp_path, tiny_weights, reference):
    model = ReducioVAE.from_single_file(write_official_checkpoint(tmp_path / "t.ckpt", tiny_weights),
                                        config=TINY_YAML)
    expected = _reconstruct(model, reference)
    model.save_pretrained(tmp_path / "folder")
    model.save_single_file(tmp_path / "single.safetensors")
    for source in (tmp_path / "folder", tmp_path / "single.safetensors"):
        loaded = ReducioVAE.from_pretrained(source)
        assert loaded.arch == model.arch  # window 8 and 64 px tiling survive, unlike shapes-only
        assert torch.equal(_reconstruct(loaded, reference), expected)


def test_bare_official_safetensors_loads_with_shapes(tiny_weights, reference):
    model = ReducioVAE.from_single_file(TINY / "weights.safetensors", config=TINY_YAML,
                                        torch_dtype=torch.float32)
    torch.testing.assert_close(_reconstruct(model, reference), reference["recon"], atol=ATOL, rtol=0)


def test_official_hub_id_offline_gives_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError) as error:
        ReducioVAE.from_pretrained("microsoft/Reducio-VAE", variant="ft2", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "hf download microsoft/Reducio-VAE reducio-ft2-fs32-attn23.ckpt --local-dir" in message
    with pytest.raises(ModelNotFoundError, match="reducio-ft4-fs32-attn23.ckpt"):
        ReducioVAE.from_pretrained("microsoft/Reducio-VAE", cache_dir=tmp_path / "cache")


def test_official_hub_id_loads_from_the_cache_offline(tmp_path, monkeypatch, tiny_weights, reference):
    """The repo id and variant map to the release's file name, found in the HF cache layout."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    repo = cache / "models--microsoft--Reducio-VAE"
    commit = "1" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    write_official_checkpoint(repo / "snapshots" / commit / "reducio-ft2-fs32-attn23.ckpt", tiny_weights)
    for args in (("microsoft/Reducio-VAE",), ("ft2",)):
        kwargs = {"variant": "ft2"} if args[0].startswith("microsoft") else {}
        model = ReducioVAE.from_pretrained(*args, config=TINY_YAML, cache_dir=cache, **kwargs)
        torch.testing.assert_close(_reconstruct(model, reference), reference["recon"], atol=ATOL, rtol=0)


def test_download_folder_with_official_file_loads(tmp_path, tiny_weights, reference):
    folder = tmp_path / "Reducio-VAE"
    folder.mkdir()
    write_official_checkpoint(folder / "reducio-ft2-fs32-attn23.ckpt", tiny_weights)
    model = ReducioVAE.from_pretrained(folder, variant="ft2", config=TINY_YAML)
    torch.testing.assert_close(_reconstruct(model, reference), reference["recon"], atol=ATOL, rtol=0)
    with pytest.raises(ModelNotFoundError, match="reducio-ft4-fs32-attn23.ckpt"):
        ReducioVAE.from_pretrained(folder)  # default variant ft4 is not there


def cli_main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """`reducio ...` through the real dispatcher, with only the subcommand under test registered
    (the others are separate modules with their own tests)."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", ("convert",))
    return cli.main(argv)


def test_convert_cli_end_to_end(tmp_path, tiny_weights, reference, capsys, monkeypatch):
    weights = {**tiny_weights, **_loss_entries()}
    checkpoint = write_official_checkpoint(tmp_path / "tiny.ckpt", weights, "module.")
    code = cli_main(["convert", str(checkpoint), "-o", str(tmp_path / "out"), "--config", str(TINY_YAML)],
                    monkeypatch)
    assert code == 0
    printed = capsys.readouterr().out
    assert "not a released preset" in printed
    assert f"{len(tiny_weights) + 4} in file, 4 loss.* dropped, {len(tiny_weights)} loaded" in printed
    assert "parameters: 5,123,851" in printed  # the fixture README's total
    model = ReducioVAE.from_pretrained(tmp_path / "out")
    torch.testing.assert_close(_reconstruct(model, reference), reference["recon"], atol=ATOL, rtol=0)

    code = cli_main(["convert", str(checkpoint), "-o", str(tmp_path / "one.safetensors"), "--single-file",
                     "--config", str(TINY_YAML), "--dtype", "float16"], monkeypatch)
    assert code == 0
    stored = load_file(tmp_path / "one.safetensors")
    assert {t.dtype for t in stored.values()} == {torch.float16}
    single = ReducioVAE.from_pretrained(tmp_path / "one.safetensors", torch_dtype=torch.float32)
    # The trainable weights are fp16 values already; only the fp32 sinusoid pos_embed rounds.
    torch.testing.assert_close(_reconstruct(single, reference), reference["recon"], atol=2e-3, rtol=0)


def test_convert_cli_reports_errors(tmp_path, capsys, monkeypatch):
    code = cli_main(["convert", str(tmp_path / "absent.ckpt"), "-o", str(tmp_path / "out")], monkeypatch)
    assert code == 1
    assert "absent.ckpt does not exist" in capsys.readouterr().err
