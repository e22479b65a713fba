"""`reducio demo`: a Gradio app with text-to-video, image-to-video, reconstruction and
edit-by-one-frame tabs (docs/demo.md). Needs the `demo` extra (gradio).

Modules: settings (sources and limits), models (lazy loading), uploads (checks and result
files), handlers (the event functions, testable without a browser), app (the page and server).
"""

import os

# Gradio reads this when it is imported: no usage statistics or version checks leave the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

__all__ = ["DemoHandlers", "DemoSettings", "build_app", "launch"]


def __getattr__(name: str):
    if name in ("build_app", "launch"):
        from reducio.demo import app

        return getattr(app, name)
    if name == "DemoHandlers":
        from reducio.demo.handlers import DemoHandlers

        return DemoHandlers
    if name == "DemoSettings":
        from reducio.demo.settings import DemoSettings

        return DemoSettings
    raise AttributeError(f"module 'reducio.demo' has no attribute {name!r}")
