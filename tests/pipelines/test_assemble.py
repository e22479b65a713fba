"""`reducio assemble` / `reducio.pipelines.assemble`: a text-to-video pipeline folder from its parts,
one part of an existing folder replaced in place, and the built-in pipeline rebuilt from itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from reducio.cli.main import main
from reducio.errors import ConfigError, ModelNotFoundError, OutputPathError
from reducio.loading.sources import builtin_folder
from reducio.models.dit import ReducioDiT
from reducio.pipelines import ImageReranker, ReducioTextToVideoPipeline
from reducio.pipelines.assemble import assemble_text_to_video

WEIGHTS = "diffusion_pytorch_model.safetensors"
PROMPT = "a red circle moving right on a black background"


def _noise_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return module


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stored_dtypes(path: Path) -> set[str]:
    with safe_open(str(path), framework="pt") as weights:
        return {weights.get_slice(key).get_dtype() for key in weights.keys()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


@pytest.fixture(scope="module")
def parts(tmp_path_factory, stage1, dit) -> dict[str, Path]:
    """Tiny random parts as `reducio train export` writes them: a stage-1 generator, two video
    DiTs (flow, like the built-in's), a reranker."""
    root = tmp_path_factory.mktemp("parts")
    stage1.save_pretrained(root / "stage1")
    flow = dit.arch.replace(prediction_type="flow")
    _noise_(ReducioDiT(flow), seed=3).save_pretrained(root / "dit")
    _noise_(ReducioDiT(flow), seed=4).save_pretrained(root / "dit2")
    _noise_(ImageReranker(text_dim=384, dim=64, width=8), seed=5).save_pretrained(root / "reranker")
    return {"stage1": root / "stage1", "dit": root / "dit", "dit2": root / "dit2", "reranker": root / "reranker"}


@pytest.fixture(scope="module")
def assembled(tmp_path_factory, parts) -> Path:
    """The built-in assembly of the parts: named MiniLM and tiny VAE, fp16 on disk, shapes-world prompts."""
    out = tmp_path_factory.mktemp("assembled") / "pipe"
    done = assemble_text_to_video(out, stage1=parts["stage1"], transformer=parts["dit"], shapes_world_prompts=True,
                                  weights_dtype="fp16", stage1_guidance=2.5, stage1_sampler="euler-stochastic")
    assert done["weights_dtype"] == "float16" and done["class"] == "ReducioTextToVideoPipeline"
    (out / "metadata.json").write_text('{"what": "tiny parts"}\n')  # a file that is not a component
    return out


def test_assembled_folder_names_its_sources_stores_fp16_and_loads_fp32(assembled, parts):
    index = json.loads((assembled / "model_index.json").read_text())
    assert index["component_sources"] == {"text_encoder": "minilm", "tokenizer": "minilm", "vae": "tiny"}
    assert not any((assembled / name).exists() for name in ("text_encoder", "tokenizer", "vae"))
    assert index["shapes_world_prompts"] is True and index["default_num_inference_steps"] == 25
    assert index["stage1_guidance_scale"] == 2.5 and index["diffusion_config"]["objective"] == "flow"
    assert index["semantic_encoder_config"]["class"] == "PatchPixelSemanticEncoder"
    assert index["content_encoder_config"]["class"] == "PooledRGBContentEncoder"
    assert index["image_reranker"] == [None, None]
    assert json.loads((assembled / "image_scheduler/scheduler_config.json").read_text())["stochastic_sampling"]
    for part in ("transformer", "image_transformer"):
        assert _stored_dtypes(assembled / part / WEIGHTS) == {"F16"}
        assert "_name_or_path" not in json.loads((assembled / part / "config.json").read_text())
    stored = load_file(assembled / "transformer" / WEIGHTS)
    source = load_file(parts["dit"] / WEIGHTS)
    assert all(torch.equal(stored[k], source[k].half()) for k in source)

    pipe = ReducioTextToVideoPipeline.from_pretrained(assembled)
    assert pipe.transformer.dtype == pipe.image_transformer.dtype == torch.float32
    assert pipe.config.shapes_world_prompts is True
    pipe.set_progress_bar_config(disable=True)
    out = pipe(PROMPT, num_inference_steps=1, stage1_num_inference_steps=1, num_frames=16,
               generator=torch.Generator().manual_seed(0), output_type="pt")
    assert tuple(out.frames.shape) == (1, 16, 3, 64, 64) and torch.isfinite(out.frames).all()


def test_without_shapes_world_prompts_the_setting_is_off(tmp_path, parts):
    assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"], transformer=parts["dit"], steps=3)
    index = json.loads((tmp_path / "p/model_index.json").read_text())
    assert index["shapes_world_prompts"] is False and index["default_num_inference_steps"] == 3
    assert _stored_dtypes(tmp_path / "p/transformer" / WEIGHTS) == {"F32"}  # the default: fp32


def test_swapping_the_transformer_in_place_changes_only_it(tmp_path, assembled, parts):
    work = tmp_path / "pipe"
    shutil.copytree(assembled, work)
    before = _files(work)
    assemble_text_to_video(work, pipeline=work, transformer=parts["dit2"])
    after = _files(work)
    assert after.keys() == before.keys()
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == [f"transformer/{WEIGHTS}"]
    assert _stored_dtypes(work / "transformer" / WEIGHTS) == {"F16"}  # as the folder stored its weights
    new = load_file(parts["dit2"] / WEIGHTS)
    assert all(torch.equal(load_file(work / "transformer" / WEIGHTS)[k], new[k].half()) for k in new)
    assert _leftovers(work) == []


def test_adding_a_reranker_in_place_changes_only_stage1_reranking(tmp_path, assembled, parts):
    work = tmp_path / "pipe"
    shutil.copytree(assembled, work)
    before = _files(work)
    assemble_text_to_video(work, pipeline=work, reranker=parts["reranker"], stage1_candidates=2)
    after = _files(work)
    assert sorted(set(after) - set(before)) == [f"image_reranker/{name}" for name in ("config.json", WEIGHTS)]
    assert sorted(n for n in before if after[n] != before[n]) == ["model_index.json"]
    old, new = (json.loads(files["model_index.json"]) for files in (before, after))
    assert new.pop("image_reranker") == ["reducio.pipelines.stage1", "ImageReranker"]
    assert new.pop("stage1_num_candidates") == 2
    old.pop("image_reranker"), old.pop("stage1_num_candidates")
    assert new == old
    assert _stored_dtypes(work / "image_reranker" / WEIGHTS) == {"F16"}
    pipe = ReducioTextToVideoPipeline.from_pretrained(work)
    assert pipe.image_reranker.dtype == torch.float32 and pipe.config.stage1_num_candidates == 2


def test_a_failing_assembly_leaves_the_output_untouched(tmp_path, assembled, parts, stage1, monkeypatch):
    work = tmp_path / "pipe"
    shutil.copytree(assembled, work)
    before = _files(work)
    # a DiT that does not take the VAE's latents: refused before anything is written
    stage1.dit.save_pretrained(tmp_path / "pixel-dit")  # in_channels 3, the tiny VAE makes 16
    with pytest.raises(ConfigError, match="does not fit the VAE.*3-channel latents.*16-channel"):
        assemble_text_to_video(work, pipeline=work, transformer=tmp_path / "pixel-dit")
    assert _files(work) == before

    def broken_save(self, folder, **kwargs):
        Path(folder, "transformer").mkdir(parents=True)
        Path(folder, "transformer", WEIGHTS).write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ReducioTextToVideoPipeline, "save_pretrained", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        assemble_text_to_video(work, pipeline=work, transformer=parts["dit2"])
    assert _files(work) == before and _leftovers(work) == []


def test_errors_name_the_missing_or_unfit_part(tmp_path, parts):
    with pytest.raises(ConfigError, match="needs a stage-1 image generator"):
        assemble_text_to_video(tmp_path / "p", transformer=parts["dit"])
    with pytest.raises(ConfigError, match="needs the video DiT"):
        assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"])
    with pytest.raises(ModelNotFoundError, match="transformer .*missing"):
        assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"], transformer=tmp_path / "missing")
    with pytest.raises(ConfigError, match="needs a stage-1 reranker"):
        assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"], transformer=parts["dit"], stage1_candidates=4)
    with pytest.raises(ConfigError, match="valid: \\('minilm',\\)"):
        assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"], transformer=parts["dit"], text_encoder="t5")
    with pytest.raises(ConfigError, match="sampler 'ddim' does not fit"):
        assemble_text_to_video(tmp_path / "p", stage1=parts["stage1"], transformer=parts["dit"], stage1_sampler="ddim")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/todo.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match="holds no pipeline"):
        assemble_text_to_video(tmp_path / "notes", stage1=parts["stage1"], transformer=parts["dit"])
    assert (tmp_path / "notes/todo.txt").read_text() == "keep me"
    assert not (tmp_path / "p").exists()


def test_cli_assembles_and_reports_errors(tmp_path, parts, capsys):
    out = tmp_path / "p"
    assert main(["assemble", "--stage1", str(parts["stage1"]), "--transformer", str(parts["dit"]), "-o", str(out),
                 "--shapes-world-prompts", "--weights-dtype", "bf16", "--stage1-guidance", "3"]) == 0
    assert f"wrote {out}: a ReducioTextToVideoPipeline, weights stored as bfloat16" in capsys.readouterr().out
    index = json.loads((out / "model_index.json").read_text())
    assert index["shapes_world_prompts"] is True and index["stage1_guidance_scale"] == 3.0
    assert _stored_dtypes(out / "transformer" / WEIGHTS) == {"BF16"}
    assert main(["assemble", "--pipeline", str(out), "-o", str(out), "--no-shapes-world-prompts"]) == 0
    assert json.loads((out / "model_index.json").read_text())["shapes_world_prompts"] is False
    assert main(["assemble", "--transformer", str(parts["dit"]), "-o", str(tmp_path / "q")]) == 1
    assert "reducio assemble: error: a text-to-video pipeline needs a stage-1" in capsys.readouterr().err


def test_reassembling_the_builtin_pipeline_from_its_own_parts_reproduces_it(tmp_path, capsys):
    shipped = builtin_folder("pipeline", "tiny")
    out = tmp_path / "rebuilt"
    assert main(["assemble", "--pipeline", str(shipped), "-o", str(out)]) == 0
    assert "weights stored as float16" in capsys.readouterr().out
    assert sorted(_files(out)) == sorted(_files(shipped))

    def settings(path: Path) -> dict:  # the diffusers version that wrote it aside
        return {k: v for k, v in json.loads(path.read_text()).items() if k != "_diffusers_version"}

    assert settings(out / "model_index.json") == settings(shipped / "model_index.json")
    for config in shipped.glob("*/*config.json"):
        assert settings(out / config.relative_to(shipped)) == settings(config), config
    for weights in shipped.glob("*/*.safetensors"):
        want, got = load_file(weights), load_file(out / weights.relative_to(shipped))
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]), (weights, key)
    assert (out / "metadata.json").read_bytes() == (shipped / "metadata.json").read_bytes()


def test_help_lists_the_options(capsys):
    """(That no command's help imports torch is checked for all of them in tests/cli/test_main.py.)"""
    with pytest.raises(SystemExit) as stop:
        main(['assemble', '--help'])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "--shapes-world-prompts" in out and "--weights-dtype {fp32,bf16,fp16}" in out


def test_a_stage1_trained_with_another_text_encoder_is_refused(tmp_path, stage1):
    other = tmp_path / "stage1-t5"
    stage1.save_pretrained(other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "text_encoder": "google/t5-v1_1-small"}))
    with pytest.raises(ConfigError, match="trained with the text encoder 'google/t5-v1_1-small'"):
        assemble_text_to_video(tmp_path / "p", stage1=other, transformer=other)
    assert not (tmp_path / "p").exists()
