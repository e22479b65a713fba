"""`reducio eval recon` and `reducio eval gen` end to end on tiny inputs."""

from __future__ import annotations

import json

import pytest
import torch

from reducio.cli.main import build_parser, load_command
from reducio.errors import ConfigError, ReducioError


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return load_command(args).run(args)


@pytest.fixture(scope="module")
def tiny_vae_dir(tmp_path_factory):
    vae_module = pytest.importorskip("reducio.models.vae")
    torch.manual_seed(0)
    vae = vae_module.ReducioVAE(vae_module.VAEConfig.preset("tiny"))
    folder = tmp_path_factory.mktemp("vae") / "tiny-random"
    vae.save_pretrained(folder)
    return folder


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_recon_on_the_synthetic_world_resumes(tiny_vae_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["eval", "recon", "--vae", str(tiny_vae_dir), "--synthetic", "test", "--count", "2",
            "--size", "64", "--device", "cpu", "-o", str(out)]
    assert _run(argv) == 0
    records = _records(out / "per_clip.jsonl")
    assert [r["id"] for r in records] == ["test/000000", "test/000001"]
    assert all(0 < r["psnr"] < 80 and -1 <= r["ssim"] <= 1 for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clips"] == 2
    assert summary["metrics"]["psnr"]["mean"] == pytest.approx(sum(r["psnr"] for r in records) / 2)
    assert "| psnr |" in (out / "report.md").read_text()
    # A larger count evaluates only the new clip.
    assert _run(argv[:7] + ["3"] + argv[8:]) == 0
    records = _records(out / "per_clip.jsonl")
    assert [r["id"] for r in records] == ["test/000000", "test/000001", "test/000002"]
    assert json.loads((out / "summary.json").read_text())["clips"] == 3
    # Other settings into the same folder are refused.
    with pytest.raises(ConfigError, match="sample_posterior"):
        _run(argv + ["--sample-posterior"])


def _recon_on_files(tiny_vae_dir, tmp_path):
    from reducio.data.synthetic.world import make_clip
    from reducio.data.video_io import write_video
    from reducio.eval.i3d import InceptionI3d
    from reducio.eval.lpips import LPIPS

    data = tmp_path / "clips"
    for i in range(2):
        write_video(data / f"clip{i}.mp4", make_clip(i, "validation", size=64).video, fps=16)
    torch.manual_seed(0)
    torch.save(LPIPS("vgg").state_dict(), tmp_path / "lpips.pth")
    torch.save(InceptionI3d().state_dict(), tmp_path / "i3d.pt")
    out = tmp_path / "run"
    code = _run(["eval", "recon", "--vae", str(tiny_vae_dir), "--data", str(data), "--size", "64",
                 "--lpips", str(tmp_path / "lpips.pth"), "--i3d", str(tmp_path / "i3d.pt"),
                 "--sample-posterior", "--device", "cpu", "-o", str(out)])
    assert code == 0
    records = _records(out / "per_clip.jsonl")
    assert sorted(r["id"] for r in records) == sorted(str(data / f"clip{i}.mp4") for i in range(2))
    assert all("lpips" in r and r["frames"] == 16 for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rfvd_clips"] == 2 and summary["rfvd"] is not None and summary["rfvd"] >= -1e-6
    features = _records(out / "i3d_features.jsonl")
    assert len(features) == 2
    return features


def test_recon_on_files_with_lpips_and_rfvd(tiny_vae_dir, tmp_path, monkeypatch):
    # The I3D forward at 224 px costs seconds per clip on a CPU: here a stand-in embedding checks
    # the plumbing (features stored per clip, rFVD from them); the slow test runs the real one.
    from reducio.eval import recon_run

    def mean_colour_embedding(i3d, video, kind="logits", chunk=8):
        return video.mean(dim=(2, 3, 4)).double()  # B 3

    monkeypatch.setattr(recon_run, "i3d_embed", mean_colour_embedding)
    features = _recon_on_files(tiny_vae_dir, tmp_path)
    assert len(features[0]["real"]) == 3


@pytest.mark.slow
def test_recon_on_files_with_real_i3d(tiny_vae_dir, tmp_path):
    features = _recon_on_files(tiny_vae_dir, tmp_path)
    assert len(features[0]["real"]) == 400


def test_recon_missing_lpips_file_is_a_clear_error(tiny_vae_dir, tmp_path):
    with pytest.raises(ReducioError, match="vgg.pth"):
        _run(["eval", "recon", "--vae", str(tiny_vae_dir), "--synthetic", "test", "--count", "1",
              "--lpips", str(tmp_path / "none.pth"), "--device", "cpu", "-o", str(tmp_path / "o")])


def test_gen_scores_videos_against_prompts(tmp_path):
    from reducio.data.synthetic.world import make_clip
    from reducio.data.video_io import write_video

    videos = tmp_path / "generated"
    lines = []
    for i in range(3):
        clip = make_clip(i, "heldout", size=64)
        write_video(videos / f"{i:03d}.mp4", clip.video, fps=16)
        # The last prompt does not describe its video.
        prompt = clip.caption if i < 2 else make_clip(10, "heldout").caption
        lines.append(json.dumps({"prompt": prompt, "path": f"{i:03d}.mp4"}))
    lines.append(json.dumps({"prompt": "a cat playing piano", "path": "000.mp4", "id": "free-text"}))
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval"
    assert _run(["eval", "gen", "--prompts", str(tmp_path / "prompts.jsonl"), "--videos", str(videos),
                 "-o", str(out)]) == 0
    records = {r["id"]: r for r in _records(out / "per_video.jsonl")}
    assert records["000.mp4"]["joint"] and records["001.mp4"]["joint"] and not records["002.mp4"]["joint"]
    assert records["free-text"]["shapes_prompt"] is False and "joint" not in records["free-text"]
    assert 0 <= records["000.mp4"]["temporal_flickering"] <= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shapes"]["count"] == 3 and summary["shapes"]["joint"] == pytest.approx(2 / 3)
    # A text prompt file pairs lines with the videos sorted by name; the counts must match.
    (tmp_path / "prompts.txt").write_text("\n".join(make_clip(i, "heldout").caption for i in range(3)) + "\n")
    assert _run(["eval", "gen", "--prompts", str(tmp_path / "prompts.txt"), "--videos", str(videos),
                 "-o", str(tmp_path / "eval-txt")]) == 0
    summary = json.loads((tmp_path / "eval-txt" / "summary.json").read_text())
    assert summary["shapes"]["joint"] == 1.0
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(ConfigError, match="counts must match"):
        _run(["eval", "gen", "--prompts", str(tmp_path / "two.txt"), "--videos", str(videos), "-o", str(out)])


class _RenderingPipeline:
    """Stands in for a text-to-video pipeline: renders the generator clip whose caption is asked."""

    device = torch.device("cpu")

    def __init__(self, clips):
        self.by_caption = {c.caption: c for c in clips}
        self.calls = []

    def __call__(self, prompt, *, generator, num_frames, output_type):
        from types import SimpleNamespace

        self.calls.append((prompt, generator.initial_seed(), num_frames, output_type))
        video = torch.from_numpy(self.by_caption[prompt].video).permute(0, 3, 1, 2).float() / 255
        return SimpleNamespace(frames=video[None])  # B T 3 H W in [0, 1], as the pipelines return


def test_generate_missing_then_evaluate(tmp_path):
    from reducio.data.synthetic.world import make_clip
    from reducio.eval.gen_run import generate_missing, read_prompt_file, run_generation

    clips = [make_clip(i, "test", size=64) for i in range(3)]
    (tmp_path / "prompts.txt").write_text("\n".join(c.caption for c in clips) + "\n")
    items = read_prompt_file(tmp_path / "prompts.txt", tmp_path / "videos", generate=True)
    assert [i.path.name for i in items] == ["00000.mp4", "00001.mp4", "00002.mp4"]
    from reducio.data.video_io import write_video

    write_video(items[1].path, clips[1].video)  # already there: not generated again
    pipe = _RenderingPipeline(clips)
    assert generate_missing(items, pipe, seed=5, progress=False) == 2
    assert [(c[0], c[1]) for c in pipe.calls] == [(clips[0].caption, 5), (clips[2].caption, 7)]
    assert all(c[2:] == (16, "pt") for c in pipe.calls)
    assert generate_missing(items, pipe, seed=5, progress=False) == 0
    summary = run_generation(items, tmp_path / "eval", progress=False)
    assert summary["shapes"]["joint"] == 1.0


def test_generate_with_a_missing_pipeline_is_a_clear_error(tmp_path):
    (tmp_path / "p.txt").write_text("a red circle moving left on a black background\n")
    with pytest.raises(ReducioError):
        _run(["eval", "gen", "--prompts", str(tmp_path / "p.txt"), "--videos", str(tmp_path / "v"),
              "--generate", str(tmp_path / "no-pipeline"), "--device", "cpu", "-o", str(tmp_path / "o")])
