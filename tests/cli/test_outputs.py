"""Output paths that cannot be what the user meant are refused before any work, in one line."""

import pytest

from reducio.cli.main import main
from reducio.cli.outputs import check_output_file, check_output_folder, check_video_output, output_paths
from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import write_video
from reducio.errors import OutputPathError


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for i in range(2):
        write_video(root / f"clip{i}.mp4", make_clip(i, size=64, frames=16).video, lossless=True)
    return root


def test_one_input_with_a_video_suffix_is_a_file_several_go_in_a_folder(tmp_path):
    one = [tmp_path / "a.mp4"]
    assert output_paths(one, tmp_path / "o.mp4") == [tmp_path / "o.mp4"]
    assert output_paths(one, tmp_path / "out") == [tmp_path / "out" / "a.mp4"]
    two = [tmp_path / "a.mp4", tmp_path / "sub" / "a.mp4"]
    assert output_paths(two, tmp_path / "out") == [tmp_path / "out" / "a.mp4", tmp_path / "out" / "a-1.mp4"]


@pytest.mark.parametrize("case", ["several inputs, one file", "existing folder as file", "under a file",
                                  "existing file as folder", "target is a folder", "unknown suffix"])
def test_impossible_outputs_are_refused(tmp_path, case):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "out" / "a.mp4").mkdir(parents=True)
    inputs, output, fix = {
        "several inputs, one file": ([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "o.mp4", "pass a folder"),
        "existing folder as file": ([tmp_path / "a.mp4"], tmp_path / "dir.mp4", "is an existing folder"),
        "under a file": ([tmp_path / "a.mp4"], tmp_path / "file" / "o.mp4", "is a file"),
        "existing file as folder": ([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "file", "existing file"),
        "target is a folder": ([tmp_path / "a.mp4"], tmp_path / "out", "is an existing folder where"),
        "unknown suffix": ([tmp_path / "a.mp4"], tmp_path / "o.avi2", "must end in"),
    }[case]
    if case == "unknown suffix":  # not a video suffix: a folder name, accepted as such
        assert output_paths(inputs, output) == [output / "a.mp4"]
        with pytest.raises(OutputPathError, match=fix):
            check_output_file(output, (".mp4",))
        return
    with pytest.raises(OutputPathError, match=fix) as error:
        output_paths(inputs, output)
    assert "\n" not in str(error.value) and str(output) in str(error.value)


def test_folders_and_video_outputs(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    with pytest.raises(OutputPathError, match="names a .mp4 file, but the output folder is a folder"):
        check_output_folder(tmp_path / "demo.mp4")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_folder(tmp_path / "file" / "sub")
    assert check_video_output(tmp_path / "frames") == tmp_path / "frames"
    with pytest.raises(OutputPathError, match="folder of PNG frames"):
        check_video_output(tmp_path / "file")
    (tmp_path / "v.gif").mkdir()
    with pytest.raises(OutputPathError, match="existing folder"):
        check_video_output(tmp_path / "v.gif")


def _cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_commands_refuse_before_loading_anything(clips, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.safetensors").mkdir()
    missing_vae = str(tmp_path / "no-such-vae")  # a load would fail naming it; the output check comes first
    err = _cli(["reconstruct", str(clips), "-o", str(tmp_path / "o.mp4"), "--vae", missing_vae], capsys)
    assert "2 inputs give 2 videos" in err
    err = _cli(["encode", str(clips / "clip0.mp4"), "-o", str(tmp_path / "dir.safetensors"), "--vae", missing_vae],
               capsys)
    assert "is an existing folder" in err
    err = _cli(["encode", str(clips / "clip0.mp4"), "-o", str(tmp_path / "lat.pt"), "--vae", missing_vae], capsys)
    assert "must end in .safetensors" in err
    assert "is a file" in _cli(["data", "synth", "--count", "1", "-o", str(tmp_path / "file" / "x")], capsys)
    assert "names a .mp4 file" in _cli(["data", "synth", "--count", "1", "-o", str(tmp_path / "d.mp4")], capsys)
    assert "existing file" in _cli(["extract", "--synthetic", "train", "--count", "1", "-o", str(tmp_path / "file")],
                                   capsys)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "d.mp4").exists()


def test_generate_checks_its_output_before_loading(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "v.mp4").mkdir()
    prompt = "a red circle moving right on a black background"
    assert "existing folder" in _cli(["generate", prompt, "-o", str(tmp_path / "v.mp4")], capsys)
    assert "is a file" in _cli(["generate", prompt, "-o", str(tmp_path / "file" / "v.mp4")], capsys)
    assert "folder of PNG frames" in _cli(["generate", prompt, "-o", str(tmp_path / "file")], capsys)


def test_decode_refuses_before_loading(clips, tmp_path, capsys):
    import torch

    from reducio.data.latent_file import LatentFile, save_latents

    data = LatentFile(latent=torch.zeros(2, 16, 4, 2, 2), content=torch.zeros(2, 3, 64, 64),
                      clip=torch.tensor([0, 1]), sources=[{"path": "a.mp4", "frames": 16, "start": 0.0},
                                                          {"path": "b.mp4", "frames": 16, "start": 0.0}],
                      fps=16, window=16, vae=str(tmp_path / "no-such-vae"), vae_config={}, sample_posterior=False)
    latents = save_latents(tmp_path / "lat.safetensors", data)
    assert "2 inputs give 2 videos" in _cli(["decode", str(latents), "-o", str(tmp_path / "o.mp4")], capsys)
