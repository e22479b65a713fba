"""`reducio demo`: serve the Gradio demo on this machine (docs/demo.md; needs the demo extra). The
parser; the work is `reducio.cli.run.demo`."""

from __future__ import annotations

from reducio.cli.arguments import DTYPE_NAMES, integer, positive_number

INSTALL = 'pip install "reducio[demo]" (from a checkout: pip install -e ".[demo]")'


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="a web demo of generation, reconstruction and editing (Gradio, this machine only)",
        description="Start a Gradio app on http://127.0.0.1:PORT with four tabs: text to video, image "
                    "to video, reconstruct (original | reconstruction with PSNR / SSIM) and edit by "
                    "one frame (docs/demo.md). Models load on first use. Needs the demo extra: "
                    f"{INSTALL}.")
    parser.add_argument("--port", type=integer(1, 65535), default=7860, help="port on 127.0.0.1 (default 7860)")
    parser.add_argument("--pipeline", default="tiny",
                        help="text/image-to-video pipeline folder (save_pretrained); default: the built-in one")
    parser.add_argument("--vae", default="tiny",
                        help="VAE of the reconstruct and edit tabs: built-in name (tiny), folder, "
                             ".safetensors, official .ckpt or ft4/ft2, as `reducio reconstruct --vae` "
                             "(default: tiny)")
    parser.add_argument("--size", default=None,
                        help="image-to-video frame size, S or HxW, multiples of 32 (default: the "
                             "pipeline's stage-1 size, 64 for the built-in one)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=DTYPE_NAMES, help="weights and compute dtype")
    parser.add_argument("--max-upload-mb", type=positive_number, default=50.0,
                        help="largest upload in MB (default 50)")
    parser.add_argument("--max-seconds", type=positive_number, default=10.0,
                        help="longest clip the reconstruct and edit tabs take, in seconds (default 10)")
    parser.set_defaults(run="reducio.cli.run.demo")

