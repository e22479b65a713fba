"""Whether the parts of a pipeline fit together (widths, objective, scheduler)."""

from __future__ import annotations

import logging
from typing import Any

from reducio.diffusion import DiffusionConfig
from reducio.errors import ConfigError
from reducio.models.compatibility import check_dit_fits_vae

logger = logging.getLogger(__name__)


def text_width(text_encoder: Any) -> int | None:
    """The token width of a transformers text encoder (T5: d_model, BERT: hidden_size)."""
    config = getattr(text_encoder, "config", None)
    return None if config is None else int(getattr(config, "d_model", None) or config.hidden_size)


def check_components(pipe: Any) -> None:
    """ConfigError unless the VAE, transformer(s), encoders and schedulers fit together."""
    d, v = pipe.transformer.arch, pipe.vae.arch
    errors = []
    try:
        check_dit_fits_vae(d, v, where="the pipeline's vae")
    except ConfigError as error:
        errors.append(str(error))
    if not v.has_content:
        errors.append("the VAE has no content encoder (content_frame='none'); Reducio generation "
                      "decodes around a content frame")
    width = text_width(pipe.text_encoder)
    if pipe.text_encoder is None or pipe.tokenizer is None or d.text_dim is None:
        errors.append("Reducio-DiT generation needs a text branch (transformer.config.text_dim), a "
                      "text encoder and its tokenizer")
    elif width != d.text_dim:
        errors.append(f"text encoder width {width} != transformer text_dim {d.text_dim}")
    semantic, content = pipe.semantic_image_encoder(), pipe.content_image_encoder()
    for name, encoder, want, attr in (("semantic_encoder", semantic, d.semantic_dim, "dim"),
                                      ("content_encoder", content, d.content_channels, "channels")):
        have = None if encoder is None else getattr(encoder, attr)
        if have != want:
            errors.append(f"{name} gives {have} but the transformer expects {want} "
                          f"({'semantic_dim' if attr == 'dim' else 'content_channels'})")
    if content is not None and abs(content.scaling_factor - d.content_scale) > 1e-6:
        logger.warning("content encoder scaling_factor %s differs from transformer content_scale %s",
                       content.scaling_factor, d.content_scale)
    errors += _objective_errors("", pipe.diffusion, d.prediction_type, pipe.scheduler)
    image_transformer = getattr(pipe, "image_transformer", None)
    if image_transformer is not None:
        s = image_transformer.arch
        if s.in_channels != 3 or s.semantic_dim is not None or s.content_channels is not None:
            errors.append("image_transformer must be a pixel-space, text-only ReducioDiT (in_channels 3, "
                          f"no semantic or content branch), got in_channels {s.in_channels}, "
                          f"semantic_dim {s.semantic_dim}, content_channels {s.content_channels}")
        if s.text_dim != width:
            errors.append(f"image_transformer text_dim {s.text_dim} != text encoder width {width} "
                          "(both stages read the same text encoder)")
        errors += _objective_errors("stage-1 ", pipe.stage1_diffusion, s.prediction_type,
                                    pipe.image_scheduler)
    if errors:
        raise ConfigError("the pipeline's components do not fit: " + "; ".join(errors))


def _objective_errors(what: str, diffusion: DiffusionConfig, prediction_type: str,
                      scheduler: Any) -> list[str]:
    objective = diffusion.objective
    errors = []
    if objective != prediction_type:
        errors.append(f"{what}diffusion objective {objective!r} != transformer prediction_type "
                      f"{prediction_type!r}")
    config = getattr(scheduler, "config", {})
    flow_scheduler = (type(scheduler).__name__.startswith("FlowMatch")
                      or config.get("prediction_type") == "flow_prediction")
    if flow_scheduler != (objective in ("flow", "flow_x")) or \
            (objective == "epsilon" and config.get("prediction_type") != "epsilon"):
        errors.append(f"{what}scheduler {type(scheduler).__name__} (prediction_type "
                      f"{config.get('prediction_type')!r}) does not sample the {objective!r} "
                      "objective; build it with reducio.diffusion.make_scheduler(diffusion_config)")
    return errors


__all__ = ["check_components", "text_width"]
