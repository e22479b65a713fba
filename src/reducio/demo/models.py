"""The demo's models, each loaded on first use and then kept (one copy per app, thread-safe)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

from reducio.cli.device import resolve_device
from reducio.cli.vae_io import load_vae
from reducio.demo.settings import DemoSettings
from reducio.loading.dtypes import resolve_dtype
from reducio.pipelines.edit import ReducioEditPipeline
import reducio.pipelines as pipelines


class Models:
    """Lazily loaded pipelines and VAE of one demo app.

    `loaders` replaces the default loader of a name ("text_to_video", "image_to_video", "vae",
    "edit"); each loader takes this object (for `settings` and the other models) and returns the
    model (the VAE loader returns (vae, note or None), as `reducio.cli.vae_io.load_vae` does).
    Tests pass small stand-ins.
    """

    def __init__(self, settings: DemoSettings, loaders: dict[str, Callable[[Models], Any]] | None = None):
        self.settings = settings
        self._loaders = {**DEFAULT_LOADERS, **(loaders or {})}
        self._cache: dict[str, Any] = {}
        self._locks = {name: threading.Lock() for name in self._loaders}

    def get(self, name: str) -> Any:
        with self._locks[name]:
            if name not in self._cache:
                self._cache[name] = self._loaders[name](self)
            return self._cache[name]

    def loaded(self, name: str) -> bool:
        return name in self._cache

    def text_to_video(self):
        return self.get("text_to_video")

    def image_to_video(self):
        return self.get("image_to_video")

    def vae(self):
        """(vae, note or None): the note says when the weights are untrained or below target."""
        return self.get("vae")

    def edit(self):
        return self.get("edit")


def vae_args(settings: DemoSettings) -> argparse.Namespace:
    """The arguments `reducio reconstruct` would parse, for the shared loading and reading code
    (reducio.cli.vae_io): the whole clip at 16 fps, resized as that command resizes it."""
    return argparse.Namespace(vae=settings.vae, device=settings.device, dtype=settings.dtype,
                              batch_size=1, tiling=False, size=None, fps=16, frames=0, start=0.0,
                              sampling="nearest")


def _pipeline(cls_name: str) -> Callable[[Models], Any]:
    def load(models: Models):
        settings = models.settings
        cls = getattr(pipelines, cls_name)
        pipe = cls.from_pretrained(str(settings.pipeline), torch_dtype=resolve_dtype(settings.dtype))
        pipe.to(resolve_device(settings.device))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return load


def _load_vae(models: Models):
    return load_vae(vae_args(models.settings))


def _load_edit(models: Models):
    vae, _ = models.vae()  # the reconstruct tab's VAE, loaded once
    pipe = ReducioEditPipeline(vae=vae)
    pipe.set_progress_bar_config(disable=True)
    return pipe


DEFAULT_LOADERS: dict[str, Callable[[Models], Any]] = {
    "text_to_video": _pipeline("ReducioTextToVideoPipeline"),
    "image_to_video": _pipeline("ReducioImageToVideoPipeline"),
    "vae": _load_vae,
    "edit": _load_edit,
}
