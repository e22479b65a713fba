"""`reducio generate` end to end with a tiny random pipeline folder (--pipeline)."""

from __future__ import annotations


import pytest
import torch

from reducio.cli.main import build_parser, load_command
from reducio.cli.run import generate
from reducio.conditioning import MiniLMTextEncoder, PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.data.video_io import read_comment, read_video, write_video
from reducio.errors import ConfigError, PipelineInputError
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.diffusion import DiffusionConfig, make_scheduler
from reducio.errors import CheckpointError, ModelNotFoundError
from reducio.pipelines import (
    ReducioImageToVideoPipeline,
    ReducioStage1Generator,
    ReducioTextToVideoPipeline,
    Stage1Config,
)

PROMPT = "a red circle moving right on a black background"


def run_cli(argv):
    args = build_parser().parse_args(list(map(str, argv)))
    return load_command(args).run(args)


def _randomize(module, seed):
    """A fresh DiT predicts exactly 0; random weights make the outputs depend on the inputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return module


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    torch.manual_seed(0)
    text = MiniLMTextEncoder.load()
    config = DiffusionConfig.for_prediction("epsilon")
    parts = dict(
        vae=ReducioVAE(VAEConfig.preset("tiny")),
        transformer=_randomize(ReducioDiT(DiTConfig.preset("tiny")), 1),
        scheduler=make_scheduler(config, None), text_encoder=text.model, tokenizer=text.tokenizer,
        semantic_encoder=PatchPixelSemanticEncoder(), content_encoder=PooledRGBContentEncoder(),
        diffusion_config=config, default_num_inference_steps=2)
    i2v = ReducioImageToVideoPipeline(**parts)
    stage1 = _randomize(ReducioStage1Generator(Stage1Config.preset("tiny-image").replace(
        num_inference_steps=2)), 2)
    ReducioTextToVideoPipeline.from_stage1(stage1, **parts).save_pretrained(root / "t2v")
    i2v.save_pretrained(root / "i2v")
    return root


def test_text_to_video_writes_mp4_and_gif(pipeline_dir, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    code = run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "t2v"),
                    "--seed", "3", "--steps", "2", "--guidance", "2.0", "--gif"])
    assert code == 0
    video = read_video(out)
    assert video.shape == (3, 16, 64, 64)
    assert read_video(tmp_path / "clip.gif").shape == (3, 16, 64, 64)
    text = capsys.readouterr().out
    assert "16 frames 64x64" in text and "frame 7" in text and "text_to_image" in text
    assert read_comment(out) is None  # not a model of the shapes world: no shapes-world tag


def test_image_to_video_with_image_and_size(pipeline_dir, tmp_path):
    picture = torch.full((3, 1, 80, 100), -1.0)
    picture[0, :, 30:50, 40:60] = 1.0
    write_video(tmp_path / "frame", picture)                # a folder with one PNG frame
    image_path = next((tmp_path / "frame").iterdir())
    out = tmp_path / "clip.gif"
    code = run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "i2v"),
                    "--image", str(image_path), "--size", "64"])
    assert code == 0
    assert read_video(out).shape == (3, 16, 64, 64)
    with pytest.raises(PipelineInputError, match=r"`image` size .* 80x100.*--size 64x96"):
        run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "i2v"),
                 "--image", str(image_path)])
    with pytest.raises(ConfigError, match="no stage-1 image generator.*--image"):
        run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "i2v")])


def test_builtin_default_not_installed_is_explained(monkeypatch, tmp_path):
    import reducio.loading.sources as sources

    monkeypatch.setattr(sources, "assets_root", lambda: tmp_path)
    with pytest.raises(ModelNotFoundError, match="built-in generator weights are not installed"):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4")])


def test_a_frame_count_the_windows_cannot_make_names_the_valid_ones(pipeline_dir, tmp_path):
    """--frames is checked against the loaded pipeline's VAE window (16 + 8 k for 16-frame windows)."""
    with pytest.raises(PipelineInputError, match="must be 16 \\+ 8 k.*got 20; use 16 or 24"):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--pipeline", str(pipeline_dir / "t2v"),
                 "--frames", "20", "--steps", "1"])


@pytest.mark.parametrize("extra, message", [
    (["--size", "64", "--height", "64", "--width", "64"], "either --size or --height/--width"),
    (["--height", "64"], "--height and --width together"),
    (["--stage1-candidates", "2", "--image", "frame.png"], "with --image there is no stage 1"),
])
def test_bad_arguments_fail_before_loading(extra, message, tmp_path):
    """Checked before any model loads: the pipeline folder does not even exist."""
    with pytest.raises(ConfigError, match=message):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--pipeline", str(tmp_path / "none"),
                 *extra])


def test_a_size_the_vae_cannot_take_names_its_compression(pipeline_dir, tmp_path):
    with pytest.raises(ConfigError, match="multiples of 32 \\(the VAE's spatial compression\\), got 70x70; use 64x64"):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--pipeline", str(pipeline_dir / "t2v"),
                 "--size", "70"])


def test_unknown_output_suffix(tmp_path):
    with pytest.raises(ConfigError, match="unknown video suffix '.avi2'"):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.avi2")])


def test_vae_tiling_option_changes_the_decode_path(pipeline_dir, tmp_path, monkeypatch):
    """--vae-tiling on tiles a 352 px decode (320 px tiles), off decodes it whole: both write the
    clip, and the two decodes differ (tile blending vs one pass)."""
    from reducio.models.vae import autoencoder

    picture = torch.rand(3, 1, 352, 352, generator=torch.Generator().manual_seed(0)) * 2 - 1
    write_video(tmp_path / "frame", picture)
    image_path = next((tmp_path / "frame").iterdir())
    tiled_calls = []
    real = autoencoder.tiled_decode
    monkeypatch.setattr(autoencoder, "tiled_decode",
                        lambda *a, **k: tiled_calls.append(1) or real(*a, **k))
    videos = {}
    for mode in ("on", "off"):
        out = tmp_path / f"clip-{mode}"
        assert run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "i2v"),
                        "--image", str(image_path), "--steps", "1", "--vae-tiling", mode]) == 0
        videos[mode] = read_video(out)
        assert videos[mode].shape == (3, 16, 352, 352)
        assert len(tiled_calls) == 1   # only the "on" run went through the tiled decode
    assert not torch.equal(videos["on"], videos["off"])


def test_offload_on_a_cpu_device_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="--offload moves models between CPU memory and a GPU.*--device cuda"):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--device", "cpu", "--offload"])


@pytest.mark.parametrize("flag", [["--offload"], ["--offload", "pinned"], ["--offload", "copy"]])
def test_offload_flag_turns_on_diffusers_model_offload(monkeypatch, tmp_path, flag):

    calls = []

    class Loaded(Exception):
        pass

    class FakePipeline:
        def enable_model_cpu_offload(self, device=None):
            calls.append(str(device))
            raise Loaded

        def to(self, device):   # offloaded models must stay in CPU memory
            raise AssertionError(f"moved to {device}")

    monkeypatch.setattr(generate, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(ReducioTextToVideoPipeline, "from_pretrained",
                        classmethod(lambda cls, source, **kwargs: FakePipeline()))
    with pytest.raises(Loaded):
        run_cli(["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--device", "cuda", *flag])
    assert calls == ["cuda"]


def test_aspect_with_size_picks_the_video_shape(pipeline_dir, tmp_path, capsys):
    out = tmp_path / "wide.mp4"
    assert run_cli(["generate", PROMPT, "-o", str(out), "--pipeline", str(pipeline_dir / "t2v"),
                    "--steps", "1", "--size", "64", "--aspect", "3:1"]) == 0
    assert read_video(out).shape == (3, 16, 32, 96)    # ~64^2 pixels at 3:1, sides multiples of 32
    assert "16 frames 32x96" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="--aspect 16:9 needs --size S"):
        run_cli(["generate", PROMPT, "-o", str(out), "--height", "64", "--width", "64", "--aspect", "16:9"])
    with pytest.raises(ConfigError, match="--aspect must be W:H"):
        run_cli(["generate", PROMPT, "-o", str(out), "--size", "64", "--aspect", "wide"])


@pytest.mark.parametrize("extra, dit_mode", [([], "reduce-overhead"),
                                             (["--compile-mode", "default"], None),
                                             (["--compile-mode", "max-autotune"], "max-autotune")])
def test_compile_option_compiles_dit_in_its_mode_and_decoder_in_default(extra, dit_mode):
    """--compile: the DiT in --compile-mode (CUDA graphs unless told otherwise), the decoder in
    torch.compile's default mode; without --compile nothing is compiled."""
    import argparse
    import types

    from reducio.cli.run.generate import _apply_speed_options

    parser = build_parser()
    calls = {}
    pipe = types.SimpleNamespace(
        transformer=types.SimpleNamespace(compile=lambda **k: calls.setdefault("dit", k)),
        vae=types.SimpleNamespace(decoder=types.SimpleNamespace(
            compile=lambda **k: calls.setdefault("decoder", k))))
    _apply_speed_options(pipe, parser.parse_args(["generate", PROMPT, "-o", "x.mp4", *extra]))
    assert calls == {}
    _apply_speed_options(pipe, parser.parse_args(["generate", PROMPT, "-o", "x.mp4", "--compile",
                                                  *extra]))
    assert calls == {"dit": {"mode": dit_mode}, "decoder": {}}


def _write_lora(pipeline_folder, out_folder, *, zero_b: bool) -> None:
    """A rank-4 LoRA for the pipeline's DiT, as `reducio train dit --set lora.rank=4` saves it."""
    from reducio.training.config import LoRASection
    from reducio.training.lora import add_lora, save_lora

    dit = ReducioDiT.from_pretrained(pipeline_folder / "transformer")
    add_lora(dit, LoRASection(rank=4))
    if not zero_b:
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, p in dit.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    save_lora(dit, out_folder)


def test_lora_option_changes_the_video_and_scale_zero_does_not(pipeline_dir, tmp_path):
    _write_lora(pipeline_dir / "t2v", tmp_path / "lora", zero_b=False)
    base = ["generate", PROMPT, "--pipeline", str(pipeline_dir / "t2v"), "--steps", "2", "--lossless"]
    videos = {}
    for name, extra in (("plain", []), ("lora", ["--lora", str(tmp_path / "lora")]),
                        ("zero", ["--lora", f"{tmp_path / 'lora'}:0"])):
        out = tmp_path / f"{name}.mkv"
        assert run_cli([*base, "-o", str(out), *extra]) == 0
        videos[name] = read_video(out)
    assert not torch.equal(videos["lora"], videos["plain"])
    assert torch.equal(videos["zero"], videos["plain"])


def test_lora_file_is_checked_before_loading(pipeline_dir, tmp_path):
    base = ["generate", PROMPT, "-o", str(tmp_path / "x.mp4"), "--pipeline", str(tmp_path / "none")]
    with pytest.raises(ModelNotFoundError, match="no such LoRA file or folder"):
        run_cli([*base, "--lora", str(tmp_path / "missing.safetensors")])
    (tmp_path / "adapter.bin").write_bytes(b"not read")
    with pytest.raises(CheckpointError, match="pickled files are refused"):
        run_cli([*base, "--lora", str(tmp_path / "adapter.bin")])
    with pytest.raises(CheckpointError, match="scale must be a finite number"):
        run_cli([*base, "--lora", f"{tmp_path / 'lora'}:nan"])


# ----------------------------------------------------------------------------- options reach the output
def _frames(folder) -> torch.Tensor:
    """A written folder of PNG frames (lossless) as (3, T, H, W)."""
    return read_video(folder)


def _one_picture(tmp_path, name: str, video: torch.Tensor) -> str:
    """Write frame (3, H, W) in [-1, 1] as a PNG and return its path."""
    write_video(tmp_path / name, video[:, None])
    return str(next((tmp_path / name).iterdir()))


def test_seed_same_clip_bit_for_bit_and_another_seed_another_clip(pipeline_dir, tmp_path):
    base = ["generate", PROMPT, "--pipeline", str(pipeline_dir / "t2v"), "--steps", "2"]
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert run_cli([*base, "--seed", str(seed), "-o", str(tmp_path / name)]) == 0
    a, b, c = (_frames(tmp_path / name) for name in "abc")
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.01


def test_guidance_changes_the_clip_and_one_or_below_is_off(pipeline_dir, tmp_path):
    """--guidance reaches the video stage: 4 extrapolates towards the prompt; 1 and anything below
    it turn guidance off (diffusers' convention), so 0, 0.5 and 1 give the same clip bit for bit."""
    image = _one_picture(tmp_path, "image", torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    base = ["generate", PROMPT, "--pipeline", str(pipeline_dir / "i2v"), "--image", image, "--steps", "2",
            "--seed", "0"]
    for name, scale in (("zero", "0"), ("half", "0.5"), ("off", "1"), ("four", "4")):
        assert run_cli([*base, "--guidance", scale, "-o", str(tmp_path / name)]) == 0
    zero, half, off, four = (_frames(tmp_path / name) for name in ("zero", "half", "off", "four"))
    assert torch.equal(off, zero) and torch.equal(off, half)
    assert (four - off).abs().mean() > 0.01


def test_fps_is_the_written_files_frame_rate(pipeline_dir, tmp_path):
    from reducio.data.video_io import probe_video

    base = ["generate", PROMPT, "--pipeline", str(pipeline_dir / "t2v"), "--steps", "1"]
    assert run_cli([*base, "--fps", "8", "-o", str(tmp_path / "slow.mp4")]) == 0
    assert run_cli([*base, "-o", str(tmp_path / "default.mp4")]) == 0
    assert probe_video(tmp_path / "slow.mp4").fps == pytest.approx(8.0)
    default_fps = ReducioTextToVideoPipeline.from_pretrained(pipeline_dir / "t2v").config.default_fps
    assert probe_video(tmp_path / "default.mp4").fps == pytest.approx(default_fps)


def test_the_image_is_the_content_frame_of_the_clip(tmp_path, capsys):
    """With the built-in pipeline (trained VAE): two world frames give two clips, and the content
    frame of each clip (frame 7 of its 16-frame window) is its own image, not the other one."""
    from reducio.data.synthetic.world import make_clip
    from reducio.eval.reconstruction import psnr

    images = [torch.from_numpy(make_clip(i, "test").video[7]).permute(2, 0, 1).float() / 127.5 - 1 for i in (0, 1)]
    clips = []
    for i, image in enumerate(images):
        path = _one_picture(tmp_path, f"image{i}", image)
        assert run_cli(["generate", PROMPT, "--image", path, "--steps", "2", "--seed", "0",
                        "-o", str(tmp_path / f"clip{i}")]) == 0
        clips.append(_frames(tmp_path / f"clip{i}"))
    assert "the content image is frame 7" in capsys.readouterr().out
    assert (clips[0] - clips[1]).abs().mean() > 0.05
    for i, clip in enumerate(clips):
        own, other = (float(psnr(clip[:, 7:8], images[j][:, None])) for j in (i, 1 - i))
        assert own >= 35.0 and own > other + 15.0, (own, other)
