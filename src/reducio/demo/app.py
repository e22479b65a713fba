"""The demo's page (gradio.Blocks) and its server: four tabs wired to `DemoHandlers`."""

from __future__ import annotations

import atexit

import gradio as gr

from reducio.cli.vae_io import BUILTIN_SIZES
from reducio.demo.handlers import DemoHandlers
from reducio.demo.settings import DemoSettings
from reducio.demo.uploads import CLIP_TYPES

HOST = "127.0.0.1"  # this machine only; the demo has no log-in
# The 64 px clips are shown enlarged: crisp pixels instead of a blur. System fonts: no font is
# fetched from the internet.
CSS = (".pixelated video, .pixelated img { image-rendering: pixelated; }\n"
       ".pixelated img { height: 100% !important; width: auto !important; object-fit: contain; }")
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])
MODEL_QUEUE = "model"  # one model call at a time: they share the CPU / GPU
EXAMPLE_PROMPTS = ["a red circle moving right on a black background",
                   "a yellow square moving up and a blue triangle moving left on a white background",
                   "a green triangle moving down on a gray background"]


def build_app(handlers: DemoHandlers) -> gr.Blocks:
    s, d = handlers.settings, handlers.defaults
    age = int(s.cache_minutes * 60)
    with gr.Blocks(title="Reducio demo", analytics_enabled=False,
                   delete_cache=(min(600, age), age)) as app:
        gr.Markdown(_intro(s))
        with gr.Tabs():
            with gr.Tab("Text to video", id="text-to-video"):
                _text_to_video_tab(handlers, s, d)
            with gr.Tab("Image to video", id="image-to-video"):
                _image_to_video_tab(handlers, s, d)
            with gr.Tab("Reconstruct", id="reconstruct"):
                _reconstruct_tab(handlers, s)
            with gr.Tab("Edit by one frame", id="edit"):
                _edit_tab(handlers, s)
    return app


def launch(settings: DemoSettings, port: int = 7860, block: bool = True,
           handlers: DemoHandlers | None = None) -> gr.Blocks:
    """Serve the demo on 127.0.0.1:port; with block=False return once it listens."""
    handlers = handlers or DemoHandlers(settings)
    atexit.register(handlers.workdir.cleanup)
    app = build_app(handlers)
    app.queue(max_size=32)
    app.launch(server_name=HOST, server_port=port, share=False, prevent_thread_lock=not block,
               max_file_size=handlers.settings.max_upload_bytes, show_error=False, mcp_server=False,
               theme=THEME, css=CSS, footer_links=["settings"], quiet=not block)
    return app


# ------------------------------------------------------------------------------------ tabs


def _text_to_video_tab(h: DemoHandlers, s: DemoSettings, d: dict) -> None:
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(label="Prompt", value=EXAMPLE_PROMPTS[0], elem_id="t2v-prompt", lines=2)
            seed, steps = _seed_and_steps("t2v", s, d)
            with gr.Accordion("Stage 1 (the content image)", open=False):
                stage1 = gr.Slider(1, s.max_steps, value=d["stage1_steps"], step=1,
                                   label="Stage-1 steps", elem_id="t2v-stage1-steps")
            run = gr.Button("Generate", variant="primary", elem_id="t2v-run")
            if s.builtin_pipeline:
                gr.Examples([[p] for p in EXAMPLE_PROMPTS], inputs=[prompt])
        with gr.Column():
            video = _video_output("t2v-video", "Video")
            message = gr.Markdown(elem_id="t2v-message")
    run.click(h.text_to_video, [prompt, seed, steps, stage1], [video, message],
              concurrency_id=MODEL_QUEUE, concurrency_limit=1)


def _image_to_video_tab(h: DemoHandlers, s: DemoSettings, d: dict) -> None:
    size = s.size if s.size is not None else d["size"]
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Content image", type="filepath", sources=["upload"],
                             elem_id="i2v-image", elem_classes="pixelated", height=256)
            gr.Markdown(f"The image is resized on its short side and centre-cropped to {_size_text(size)}; "
                        "it becomes the **middle** frame of the clip's first window (its content frame), not the first.")
            prompt = gr.Textbox(label="Prompt", value=EXAMPLE_PROMPTS[0], elem_id="i2v-prompt", lines=2)
            seed, steps = _seed_and_steps("i2v", s, d)
            run = gr.Button("Generate", variant="primary", elem_id="i2v-run")
        with gr.Column():
            video = _video_output("i2v-video", "Video")
            message = gr.Markdown(elem_id="i2v-message")
    # preprocess=False: the handler reads the upload itself, so an unreadable image is a message
    run.click(h.image_to_video, [image, prompt, seed, steps], [video, message], preprocess=False,
              concurrency_id=MODEL_QUEUE, concurrency_limit=1)


def _reconstruct_tab(h: DemoHandlers, s: DemoSettings) -> None:
    with gr.Row():
        with gr.Column():
            clip = gr.File(label=f"Clip (at most {s.max_seconds:g} s, {s.max_upload_mb:g} MB)",
                           file_types=CLIP_TYPES, elem_id="rec-clip")
            gr.Markdown(f"The clip is read at 16 fps{_vae_size_text(s)}, encoded by the VAE "
                        f"(`{s.vae}`) one window at a time and decoded again.")
            run = gr.Button("Reconstruct", variant="primary", elem_id="rec-run")
        with gr.Column():
            video = _video_output("rec-video", "Original | reconstruction")
            message = gr.Markdown(elem_id="rec-message")
    run.click(h.reconstruct, [clip], [video, message], preprocess=False,
              concurrency_id=MODEL_QUEUE, concurrency_limit=1)


def _edit_tab(h: DemoHandlers, s: DemoSettings) -> None:
    gr.Markdown("1. Upload a clip and get its content frame.\n"
                "2. Edit that frame in any image editor (keep its size).\n"
                "3. Upload the edited frame: the clip's motion is decoded around it.")
    with gr.Row():
        with gr.Column():
            clip = gr.File(label=f"Clip (at most {s.max_seconds:g} s, {s.max_upload_mb:g} MB)",
                           file_types=CLIP_TYPES, elem_id="edit-clip")
            get_frame = gr.Button("Get the frame to edit", elem_id="edit-get-frame")
            frame = gr.Image(label="Frame to edit (download it)", type="filepath", interactive=False,
                             format="png", buttons=["download"], elem_id="edit-frame",
                             elem_classes="pixelated", height=256)
            frame_message = gr.Markdown(elem_id="edit-frame-message")
        with gr.Column():
            edited = gr.Image(label="Edited frame", type="filepath", sources=["upload"],
                              elem_id="edit-edited", elem_classes="pixelated", height=256)
            run = gr.Button("Apply the edit", variant="primary", elem_id="edit-run")
            video = _video_output("edit-video", "Original | edited")
            message = gr.Markdown(elem_id="edit-message")
    get_frame.click(h.edit_frame, [clip], [frame, frame_message], preprocess=False,
                    concurrency_id=MODEL_QUEUE, concurrency_limit=1)
    run.click(h.edit_apply, [clip, edited], [video, message], preprocess=False,
              concurrency_id=MODEL_QUEUE, concurrency_limit=1)


# --------------------------------------------------------------------------------- pieces


def _seed_and_steps(prefix: str, s: DemoSettings, d: dict):
    with gr.Row():
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=2**32 - 1,
                         elem_id=f"{prefix}-seed")
        steps = gr.Slider(1, s.max_steps, value=d["steps"], step=1, label="Steps (video stage)",
                          elem_id=f"{prefix}-steps")
    return seed, steps


def _video_output(elem_id: str, label: str) -> gr.Video:
    return gr.Video(label=label, interactive=False, autoplay=True, loop=True, buttons=["download"],
                    elem_id=elem_id, elem_classes="pixelated", height=320)


def _intro(s: DemoSettings) -> str:
    model = ("the built-in 64 px model of the synthetic shapes world: prompts read "
             "'a {colour} {shape} moving {direction} on a {background} background'"
             if s.builtin_pipeline else f"the pipeline `{s.pipeline}`")
    return (f"# Reducio\nVideo generation from extremely compressed motion latents. Generating with "
            f"{model}. Uploads: at most {s.max_upload_mb:g} MB and {s.max_seconds:g} s.")


def _size_text(size) -> str:
    h, w = (size, size) if isinstance(size, int) else size
    return f"{w}x{h}"


def _vae_size_text(s: DemoSettings) -> str:
    size = BUILTIN_SIZES.get(str(s.vae))
    return (f", resized and centre-cropped to {size}x{size}" if size else
            ", cropped to multiples of 32 pixels")
