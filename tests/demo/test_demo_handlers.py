"""The demo's handlers, called as Gradio calls them but without a browser.

Generation runs on stand-in pipelines (the handlers' own work: checks, prompts, progress, files);
reconstruction and editing run the built-in tiny VAE and the real edit pipeline.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from reducio.data.video_io import probe_video, read_video
from reducio.demo.handlers import DemoHandlers, check_int, check_prompt
from reducio.demo.models import Models
from reducio.demo.settings import DemoSettings, pipeline_defaults
from reducio.demo.uploads import DemoInputError, Workdir

MB = 2**20


class FakeVideoPipeline:
    """Records its calls and returns 16 random frames (B T 3 H W in [0, 1]), as output_type="pt"."""

    config = SimpleNamespace(default_fps=16)

    def __init__(self, error: Exception | None = None):
        from reducio.models.vae import ReducioVAE, VAEConfig

        self.calls = []
        self.error = error
        self.vae = ReducioVAE(VAEConfig.preset("tiny"))  # the real window and content frame

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.error is not None:
            raise self.error
        for step in range(kwargs["num_inference_steps"]):
            kwargs["callback_on_step_end"](self, step, 1000 - step, {})
        height = args[0].shape[-2] if isinstance(args[0], torch.Tensor) else 64
        frames = torch.rand(1, 16, 3, height, height, generator=torch.Generator().manual_seed(0))
        return SimpleNamespace(frames=frames, timings={"total": 0.5})


class Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, unit=None, **_):
        self.calls.append((value, desc))


@pytest.fixture
def fake(tmp_path):
    pipe = FakeVideoPipeline()
    settings = DemoSettings(max_upload_mb=1, max_seconds=5)
    models = Models(settings, {"text_to_video": lambda m: pipe, "image_to_video": lambda m: pipe})
    return SimpleNamespace(pipe=pipe, handlers=DemoHandlers(settings, models, Workdir(60, tmp_path)))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """Handlers on the built-in VAE (loaded once for the module)."""
    return DemoHandlers(DemoSettings(max_seconds=5), workdir=Workdir(600, tmp_path_factory.mktemp("work")))


def _message(error: pytest.ExceptionInfo) -> str:
    return error.value.message


# ----------------------------------------------------------------------------- prompts, numbers


def test_prompts_are_normalised_and_checked_against_the_world():
    assert check_prompt(" A Red circle moving right, on a black background. ", True) == (
        "a red circle moving right on a black background", None)
    prompt, warning = check_prompt("a dragon flying over a castle", True)
    assert "outside it (unknown word(s): dragon, flying, over, castle)" in warning
    _, warning = check_prompt("a red circle on a black background moving right", True)
    assert "not in the order" in warning
    assert check_prompt("A dragon.", False) == ("A dragon.", None)  # a user's pipeline: as typed
    with pytest.raises(DemoInputError, match="type a prompt"):
        check_prompt("   ", True)


@pytest.mark.parametrize("value", [0, 101, 1.5, "x", None, float("nan")])
def test_bad_numbers_are_refused(value):
    with pytest.raises(DemoInputError, match="steps must be a whole number from 1 to 100"):
        check_int(value, "steps", 1, 100)


def test_slider_defaults_come_from_the_pipeline():
    assert pipeline_defaults("tiny") == {"steps": 25, "stage1_steps": 30, "fps": 16, "size": 64}
    assert pipeline_defaults("/no/such/folder")["steps"] == 25


# ---------------------------------------------------------------------------------- generation


def test_text_to_video_writes_a_webm_of_16_frames(fake):
    progress = Progress()
    path, message = fake.handlers.text_to_video("A red circle moving right on a black background.", 3, 2, 4,
                                                progress=progress)
    (prompt,), kwargs = fake.pipe.calls[0]
    assert prompt == "a red circle moving right on a black background"
    assert (kwargs["num_inference_steps"], kwargs["stage1_num_inference_steps"], kwargs["output_type"]) == (2, 4, "pt")
    assert path.endswith(".webm")
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height, info.fps) == (16, 64, 64, 16)
    assert "16 frames, 64x64, 16 fps" in message and "Warning" not in message
    assert ((2, 2), "video stage") in progress.calls  # the last step of the video stage


def test_text_to_video_warns_outside_the_world_and_still_generates(fake):
    with pytest.warns(UserWarning, match="outside it"):  # gr.Warning outside a page: a Python warning
        path, message = fake.handlers.text_to_video("a purple dragon", 0, 1, 1, progress=Progress())
    assert message.startswith("**Warning:** The built-in pipeline") and "unknown word(s): dragon" in message
    assert probe_video(path).num_frames == 16


@pytest.mark.parametrize("prompt, seed, steps, match", [
    ("", 0, 1, "type a prompt"),
    ("a red circle moving right on a black background", -1, 1, "seed must be"),
    ("a red circle moving right on a black background", 0, 0, "steps must be"),
])
def test_text_to_video_errors_are_gradio_errors(fake, prompt, seed, steps, match):
    with pytest.raises(gr.Error, match=match):
        fake.handlers.text_to_video(prompt, seed, steps, 1, progress=Progress())
    assert not fake.pipe.calls  # refused before any model ran


def test_unexpected_failures_show_a_message_without_a_traceback(tmp_path, caplog):
    settings = DemoSettings()
    pipe = FakeVideoPipeline(error=RuntimeError("CUDA out of memory in /secret/path"))
    handlers = DemoHandlers(settings, Models(settings, {"text_to_video": lambda m: pipe}), Workdir(60, tmp_path))
    with pytest.raises(gr.Error) as error:
        handlers.text_to_video("a red circle moving right on a black background", 0, 1, 1, progress=Progress())
    assert _message(error) == "the demo failed (RuntimeError); the server log has the details"
    assert "Traceback" in caplog.text  # kept for whoever runs the server


def test_image_to_video_resizes_and_crops_the_upload(fake, demo_files):
    payload = {"path": str(demo_files["wide"]), "orig_name": "my frame.png"}
    path, message = fake.handlers.image_to_video(payload, "a yellow triangle moving left on a black background",
                                                 1, 2, progress=Progress())
    (image, prompt), kwargs = fake.pipe.calls[0]
    assert image.shape == (1, 3, 64, 64) and -1 <= image.min() and image.max() <= 1
    assert kwargs["num_inference_steps"] == 2 and kwargs["output_type"] == "pt"
    assert "centre-cropped to 64x64" in message and "frame 7 of 16" in message
    assert probe_video(path).num_frames == 16


@pytest.mark.parametrize("upload, match", [
    (None, "upload an image first"),
    ("corrupt_image", "corrupt.png is not a readable image"),
    ("clip", "not an image this demo reads"),
])
def test_image_to_video_upload_errors(fake, demo_files, upload, match):
    payload = None if upload is None else {"path": str(demo_files[upload]), "orig_name": demo_files[upload].name}
    with pytest.raises(gr.Error, match=match):
        fake.handlers.image_to_video(payload, "a red circle moving right on a black background", 0, 1,
                                     progress=Progress())
    assert not fake.pipe.calls


def test_uploads_over_the_size_limit_are_refused(fake, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (MB + 1))
    with pytest.raises(gr.Error, match="over this demo's limit of 1 MB"):
        fake.handlers.image_to_video(str(big), "a red circle moving right on a black background", 0, 1,
                                     progress=Progress())


# ---------------------------------------------------------------------- reconstruct and edit


def test_reconstruct_shows_both_clips_and_the_scores(real, demo_files):
    progress = Progress()
    path, message = real.reconstruct({"path": str(demo_files["clip"]), "orig_name": "shapes.mp4"},
                                     progress=progress)
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height) == (20, 64 + 4 + 64, 64)
    assert "**shapes.mp4**: 20 frames at 16 fps, 64x64" in message
    assert "dB" in message and "4,096x fewer positions" in message
    assert str(demo_files["clip"]) not in message
    assert ((2, 2), "encoding and decoding") in progress.calls  # 20 frames = 2 windows


@pytest.mark.parametrize("upload, match", [
    ("corrupt", "corrupt.mp4: cannot open as a video"),
    ("image", "not a video this demo reads"),
])
def test_reconstruct_upload_errors(real, demo_files, upload, match):
    with pytest.raises(gr.Error, match=match):
        real.reconstruct(str(demo_files[upload]), progress=Progress())


def test_reconstruct_refuses_long_clips(demo_files, tmp_path):
    handlers = DemoHandlers(DemoSettings(max_seconds=1), workdir=Workdir(60, tmp_path))
    with pytest.raises(gr.Error, match="lasts 1.2 s, over this demo's limit of 1 s"):
        handlers.reconstruct(str(demo_files["clip"]), progress=Progress())
    assert not handlers.models.loaded("vae")


def test_edit_round_trip(real, demo_files, tmp_path):
    from PIL import Image

    clip = {"path": str(demo_files["clip"]), "orig_name": "shapes.mp4"}
    frame_path, message = real.edit_frame(clip, progress=Progress())
    assert "Frame 7 of **shapes.mp4** (64x64)" in message
    frame = Image.open(frame_path)
    assert frame.size == (64, 64)
    # the frame to edit is the clip's frame 7 (the VAE's content frame)
    source = read_video(demo_files["clip"], num_frames=16, fps=16)[:, 7]
    exported = read_video(frame_path, num_frames=1)[:, 0]
    assert (exported - source).abs().max() <= 2 / 255
    edited = tmp_path / "edited.png"
    Image.eval(frame, lambda v: 255 - v).save(edited)
    path, message = real.edit_apply(clip, {"path": str(edited), "orig_name": "inverted.png"}, progress=Progress())
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height) == (20, 132, 64)
    assert "decoded around **inverted.png**" in message


def test_edit_errors(real, demo_files):
    clip = str(demo_files["clip"])
    with pytest.raises(gr.Error, match="wide.png is 64x32 pixels but the clip's frames are 64x64"):
        real.edit_apply(clip, str(demo_files["wide"]), progress=Progress())
    with pytest.raises(gr.Error, match="upload the edited frame first"):
        real.edit_apply(clip, None, progress=Progress())
    with pytest.raises(gr.Error, match="frame.png is not a readable image"):
        real.edit_apply(clip, {"path": str(demo_files["corrupt_image"]), "orig_name": "frame.png"},
                        progress=Progress())
    with pytest.raises(gr.Error, match=r"short.mp4 has 4 frame\(s\) at 16 fps; the edit tab needs at least 8"):
        real.edit_frame(str(demo_files["short"]), progress=Progress())
    with pytest.raises(gr.Error, match="upload a clip first"):
        real.edit_frame(None, progress=Progress())


def test_image_to_video_only_pipelines_refuse_text_to_video(tmp_path):
    folder = tmp_path / "pipeline"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "ReducioImageToVideoPipeline"}')
    settings = DemoSettings(pipeline=str(folder))
    pipe = FakeVideoPipeline()
    handlers = DemoHandlers(settings, Models(settings, {"text_to_video": lambda m: pipe}), Workdir(60, tmp_path))
    with pytest.raises(gr.Error, match="no stage-1 image generator.*use the Image to video tab"):
        handlers.text_to_video("anything", 0, 1, 1, progress=Progress())
    assert not pipe.calls


def test_models_load_once_on_first_use():
    from concurrent.futures import ThreadPoolExecutor

    loads = []
    models = Models(DemoSettings(), {"vae": lambda m: loads.append(1) or ("vae", None)})
    assert not models.loaded("vae")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: models.vae(), range(8)))
    assert results == [("vae", None)] * 8 and loads == [1]
