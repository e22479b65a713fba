"""Whether the parts of a pipeline fit together (widths, objective, scheduler)."""

from __future__ import annotations

import logging
from typing import Any

from reducio.errors import ConfigError

logger = logging.getLogger(__name__)


def check_components(pipe: Any) -> None:
    """ConfigError unless the VAE, DiT, encoders and scheduler fit together."""
    d, v = pipe.dit.config, pipe.vae.config
    errors = []
    if d.in_channels != v.latent_channels:
        errors.append(f"dit in_channels {d.in_channels} != vae latent_channels {v.latent_channels}")
    if not v.has_content:
        errors.append("the VAE has no content encoder (content_frame='none'); Reducio generation "
                      "decodes around a content frame")
    if pipe.text_encoder is None or d.text_dim is None:
        errors.append("Reducio-DiT generation needs a text branch (dit.config.text_dim) and a text encoder")
    elif pipe.text_encoder.dim != d.text_dim:
        errors.append(f"text encoder dim {pipe.text_encoder.dim} != dit text_dim {d.text_dim}")
    for name, encoder, want, attr in (("semantic_encoder", pipe.semantic_encoder, d.semantic_dim, "dim"),
                                      ("content_encoder", pipe.content_encoder, d.content_channels,
                                       "channels")):
        have = None if encoder is None else getattr(encoder, attr)
        if have != want:
            errors.append(f"{name} gives {have} but the DiT expects {want} "
                          f"({'semantic_dim' if attr == 'dim' else 'content_channels'})")
    if pipe.content_encoder is not None and abs(pipe.content_encoder.scaling_factor - d.content_scale) > 1e-6:
        logger.warning("content encoder scaling_factor %s differs from dit content_scale %s",
                       pipe.content_encoder.scaling_factor, d.content_scale)
    objective = pipe.diffusion_config.objective
    if objective != d.prediction_type:
        errors.append(f"diffusion objective {objective!r} != dit prediction_type {d.prediction_type!r}")
    config = getattr(pipe.scheduler, "config", {})
    flow_scheduler = (type(pipe.scheduler).__name__.startswith("FlowMatch")
                      or config.get("prediction_type") == "flow_prediction")
    if flow_scheduler != (objective in ("flow", "flow_x")) or \
            (objective == "epsilon" and config.get("prediction_type") != "epsilon"):
        errors.append(f"scheduler {type(pipe.scheduler).__name__} (prediction_type "
                      f"{config.get('prediction_type')!r}) does not sample the {objective!r} "
                      "objective; build it with reducio.diffusion.make_scheduler(diffusion_config)")
    if errors:
        raise ConfigError("the pipeline's components do not fit: " + "; ".join(errors))


__all__ = ["check_components"]
