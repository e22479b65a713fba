"""`reducio demo`: a Gradio app with text-to-video, image-to-video, reconstruction and
edit-by-one-frame tabs (docs/demo.md). Needs the `demo` extra (gradio).

Modules: settings (sources and limits), models (lazy loading), uploads (checks and result
files), handlers (the event functions, testable without a browser), app (the page and server:
`reducio.demo.app.build_app` / `launch`). Only `DemoSettings` is re-exported here: the other
modules import gradio, which this package must not need to be imported.
"""

import os

# Gradio reads this when it is imported: no usage statistics or version checks leave the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from reducio.demo.settings import DemoSettings  # noqa: E402  (after the environment is set)

__all__ = ["DemoSettings"]
