"""The model side of a VAE run: the VAE built from its config section (a preset, released or
saved weights, or partly initialised from them), which of its parameters train, and LPIPS."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from reducio.errors import ConfigError, ModelNotFoundError
from reducio.eval.lpips import LPIPS
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.training.config import VAEModelSection

logger = logging.getLogger(__name__)


def matching_names(names, prefixes, option: str, model: nn.Module) -> list[str]:
    """The names (parameter / state_dict keys) under one of `prefixes`, whole dotted components
    ("decoder" matches "decoder.conv_in.weight", not "decoder_2d.x"). A prefix that matches
    nothing is an error naming `option` and the model's top-level modules."""
    names = list(names)
    prefixes = [q.rstrip(".") for q in prefixes]
    tops = sorted({n.split(".")[0] for n in names})

    def matches(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    for prefix in prefixes:
        if not any(matches(n, prefix) for n in names):
            raise ConfigError(f"{option}: {prefix!r} matches no parameter of {type(model).__name__}; "
                              f"top-level modules are {tops} (use a dotted prefix such as 'encoder_3d')")
    return [n for n in names if any(matches(n, q) for q in prefixes)]


def freeze_parameters(model: nn.Module, prefixes) -> None:
    """Turn off gradients of the parameters whose names start with one of `prefixes` (whole name
    components, `matching_names`)."""
    if not prefixes:
        return
    prefixes = [q.rstrip(".") for q in prefixes]
    named = list(model.named_parameters())
    tops = sorted({n.split(".")[0] for n, _ in named})
    frozen = set(matching_names((n for n, _ in named), prefixes, "model.freeze", model))
    for name, p in named:
        if name in frozen:
            p.requires_grad_(False)
    trained = sum(p.numel() for _, p in named if p.requires_grad)
    if trained == 0:
        raise ConfigError(f"model.freeze {prefixes} fixes every parameter: nothing left to train; "
                          f"freeze a subset of {tops}")
    logger.info("model.freeze %s: %d parameters fixed, %d trained", prefixes,
                sum(p.numel() for _, p in named) - trained, trained)


def build_vae(section: VAEModelSection) -> nn.Module:
    """A ReducioVAE from a preset (+ overrides), or from released / saved weights with `init`."""
    if section.init_only and not section.init:
        raise ConfigError(f"model.init_only {list(section.init_only)} takes parameters from model.init, which is "
                          "not set; pass --set model.init=WEIGHTS (or drop model.init_only)")
    if section.init:
        if section.init_only:
            return _partly_initialised(section)
        if section.overrides:
            logger.warning("model.init is set: the architecture comes from %s and model.overrides %s are ignored",
                           section.init, sorted(section.overrides))
        logger.info("initialising the VAE from %s", section.init)
        return ReducioVAE.from_pretrained(section.init)
    base = VAEConfig.preset(section.preset)
    config = VAEConfig.from_dict({**base.to_dict(), **section.overrides}) if section.overrides else base
    return ReducioVAE(config)


def _partly_initialised(section: VAEModelSection) -> nn.Module:
    """model.init_only: the init's architecture with model.overrides, and only the parameters under
    the init_only prefixes copied from the init weights (their shapes must be unchanged)."""
    source = ReducioVAE.from_pretrained(section.init)
    config = VAEConfig.from_dict({**source.arch.to_dict(), **section.overrides})
    vae = ReducioVAE(config)
    theirs, ours = source.state_dict(), vae.state_dict()
    names = matching_names(ours, section.init_only, "model.init_only", vae)
    wrong = [f"{n} {tuple(theirs[n].shape) if n in theirs else 'missing'} -> {tuple(ours[n].shape)}"
             for n in names if n not in theirs or theirs[n].shape != ours[n].shape]
    if wrong:
        raise ConfigError(f"model.init_only: {len(wrong)} tensors of {section.init} do not fit the new architecture "
                          f"(first: {wrong[0]}); model.overrides {dict(section.overrides)} changed a module "
                          "listed in init_only: copy only modules the overrides leave unchanged")
    vae.load_state_dict({n: theirs[n] for n in names}, strict=False)
    logger.info("model.init_only %s: %d tensors from %s, %d freshly initialised", list(section.init_only),
                len(names), section.init, len(ours) - len(names))
    return vae


def load_lpips(path: str | None, backbone: str | None = None) -> nn.Module | None:
    """LPIPS(VGG) from local weights; None when no path is configured (the caller turns the term off)."""
    if not path:
        return None
    for key, value in (("loss.lpips_weights", path), ("loss.lpips_backbone", backbone)):
        if value is not None and not Path(value).exists():
            raise ModelNotFoundError(f"{key} {value!r} does not exist; pass the file holding the LPIPS VGG "
                                     "weights, or set loss.perceptual_weight=0")
    return LPIPS.from_pretrained(path, net="vgg", backbone_path=backbone)


__all__ = ["build_vae", "freeze_parameters", "load_lpips", "matching_names"]
