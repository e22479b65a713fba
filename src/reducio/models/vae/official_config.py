"""The release's VAE configuration -> a VAEConfig: from its YAML (`model.params`), or from the
shapes of a released checkpoint's weights (`infer_official_config`, `detect_official_preset`).

Translating the YAML:

The release builds its modules with `**ddconfig`, so it silently ignores keys it does not know.
We sort every key into one of three bins:
- mapped onto a VAEConfig field;
- fixed: consumed by the release, but we implement one value only (the released one); another
  value raises ConfigError, because the weights/behaviour would differ;
- harmless: training-only or unused by the release (resolution, dropout 0, use_checkpoint,
  lossconfig, ...): accepted silently.
Anything else is logged as a warning (the release ignores it too).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reducio.errors import CheckpointError, ConfigError
from reducio.loading.official import DEFAULT_VARIANT, RELEASED_PRESETS, infer_official_params
from reducio.models.vae.config import VAEConfig

logger = logging.getLogger(__name__)

_PARAMS_HARMLESS = {
    "monitor", "image_key", "automatic_optimization", "attn_precision", "freeze_2d", "freeze_3d",
    "lossconfig", "scheduler_config", "scheduler_disc_config", "ckpt_path", "ignore_keys",
    "gradient_clip_val", "gradient_clip_val_disc", "mask_config",
}
# Runtime settings, not architecture (runtime_from_official_params reads them).
_PARAMS_RUNTIME = ("use_tiling", "tile_sample_min_size", "tile_overlap_factor")
_RELEASE_DEFAULT_OVERLAP = 0.2
# Keys both encoders/decoder accept and that do not change inference with released values.
_DD_HARMLESS = {"resolution", "use_checkpoint", "fp32_attention", "attn_resolutions",
                "init_values", "temp_up_first", "use_proj", "dropout"}
# key -> (release default when absent, the only value we implement)
_DD_FIXED: dict[str, tuple[Any, Any]] = {
    "use_3d_conv": (False, True),
    "upsample_first": (True, True),
    "upsample_mode": ("interpolate", "interpolate"),
    "norm_type": ("layer", "layer"),
    "is_tanh_gating": (False, False),
    "use_conv_shortcut": (False, False),
    "tanh_out": (False, False),
    "resamp_with_conv": (True, True),
    "double_z": (True, True),
    "enable_fuse": (True, True),
    "out_z_2d": (False, False),
}


def config_from_official_yaml(path: str | Path) -> VAEConfig:
    """Read a release YAML file and build the equivalent VAEConfig (architecture only; its tiling
    keys are runtime settings: `runtime_from_official_params`)."""
    return config_from_official_params(read_official_params(path), source=str(path))


def read_official_params(path: str | Path) -> dict[str, Any]:
    """The `model.params` mapping of a release YAML file."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read official VAE YAML {path}: {exc}") from exc
    return _find_params(data, path)


def runtime_from_official_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The runtime settings a release config sets (`model.params.use_tiling`,
    `tile_sample_min_size`, `tile_overlap_factor`), for `ReducioVAE.apply_runtime_settings`. An
    absent overlap is the release constructor's default, 0.2 (its configs all set 0.25)."""
    runtime = {key: params[key] for key in _PARAMS_RUNTIME if key in params}
    if "use_tiling" in runtime:
        runtime.setdefault("tile_overlap_factor", _RELEASE_DEFAULT_OVERLAP)
    return runtime


def _find_params(data: Any, path: str | Path) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        data = data["params"]
    if not isinstance(data, dict) or "ddconfig" not in data or "ddconfig_2d" not in data:
        raise ConfigError(f"{path} is not a Reducio-VAE config: expected model.params with "
                          "ddconfig and ddconfig_2d")
    return data


def config_from_official_params(params: dict[str, Any], source: str = "<dict>") -> VAEConfig:
    """Build a VAEConfig from the release's `model.params` mapping."""
    dd, dd2 = dict(params["ddconfig"]), dict(params["ddconfig_2d"])
    problems: list[str] = []
    unknown: list[str] = []

    def take(cfg: dict[str, Any], key: str, default: Any = None, where: str = "ddconfig") -> Any:
        if key in cfg:
            return cfg.pop(key)
        if default is None:
            problems.append(f"{where}.{key} is required")
        return default

    # ------------------------------------------------------------ model.params
    for key in sorted(set(params) - {"ddconfig", "ddconfig_2d"}):
        if key in _PARAMS_HARMLESS or key in _PARAMS_RUNTIME or key in {"embed_dim", "enable_2d",
                                                                         "mode"}:
            continue
        unknown.append(key)
    if not params.get("enable_2d", True):
        problems.append("enable_2d=False (decoder keeps fusion weights but skips them) is not "
                        "supported; use VAEConfig(content_frame='none') for a model without "
                        "content frame")
    mode = params.get("mode", "full")
    if mode == "residual":
        logger.info("%s: mode='residual' only changes the training target; ignored", source)
    elif mode != "full":
        problems.append(f"mode={mode!r} is not supported (only 'full'; 'causal' uses causal "
                        "3D convolutions)")

    # ------------------------------------------------------------ ddconfig (3D encoder, decoder)
    ch = take(dd, "ch")
    ch_mult = tuple(take(dd, "ch_mult", (1, 2, 4, 8)))
    fields: dict[str, Any] = {
        "frames": take(dd, "temp_res", VAEConfig().frames),  # the release's default window
        "in_channels": take(dd, "in_channels"),
        "out_channels": take(dd, "out_ch"),
        "z_channels": take(dd, "z_channels"),
        "log2_time_downsample": take(dd, "f_t", 0),
        "encoder_channels": ch,
        "decoder_channels": take(dd, "ch_in", ch),
        "channel_mult": ch_mult,
        "num_res_blocks": take(dd, "num_res_blocks"),
        "fuse_levels": tuple(take(dd, "ch_fuse", (-1,) * len(ch_mult))),
        "window_size": _window(take(dd, "window_size", 256), "ddconfig.window_size", problems),
    }
    f_s = dd.pop("f_s", len(ch_mult) - 1)
    if f_s != len(ch_mult) - 1:
        problems.append(f"ddconfig.f_s={f_s} differs from len(ch_mult)-1={len(ch_mult) - 1}; "
                        "only the default spatial factor is supported")
    fuse_type = dd.pop("fuse_type", None)
    fusing = any(k >= 0 for k in fields["fuse_levels"])
    types_used = {fuse_type} if isinstance(fuse_type, str) or fuse_type is None else set(fuse_type)
    if fusing and types_used != {"attn"}:
        problems.append(f"ddconfig.fuse_type={fuse_type!r}: only cross-attention fusion "
                        "('attn') is supported")
    pos_mode = dd.pop("pos_embed_mode", "none")
    if pos_mode != "t":
        problems.append(f"ddconfig.pos_embed_mode={pos_mode!r}: only 't' is supported")
    for key, (default, supported) in _DD_FIXED.items():
        value = dd.pop(key, default)
        if value != supported:
            problems.append(f"ddconfig.{key}={value!r}: only {supported!r} is supported")
    fuse_mid_type = dd.pop("fuse_mid_type", None)
    if fuse_mid_type not in (None, "attn"):
        problems.append(f"ddconfig.fuse_mid_type={fuse_mid_type!r}: only cross-attention "
                        "(None or 'attn') is supported")
    # Release quirk (docs/architecture.md §7.3): the decoder compares f_s with the 2D f_s read under the key 'fs',
    # which never exists, so the 2D factor is always len(ch_mult_2d)-1.
    ch_mult_2d = tuple(take(dd2, "ch_mult", (1, 2, 4, 8), "ddconfig_2d"))
    f_s_2d = len(ch_mult_2d) - 1
    fields["fuse_mid"] = bool(dd.pop("fuse_mid", False)) and (
        f_s != f_s_2d or fuse_mid_type == "attn")
    if float(dd.get("dropout", 0.0)) != 0.0:
        problems.append(f"ddconfig.dropout={dd['dropout']}: only 0.0 is supported")
    for key in sorted(dd):
        if key not in _DD_HARMLESS:
            unknown.append(f"ddconfig.{key}")

    # ------------------------------------------------------------ ddconfig_2d (content encoder)
    fields["content_channels"] = take(dd2, "ch", where="ddconfig_2d")
    fields["content_channel_mult"] = ch_mult_2d
    fields["content_num_res_blocks"] = take(dd2, "num_res_blocks", where="ddconfig_2d")
    fields["content_window_size"] = _window(take(dd2, "window_size", 256, "ddconfig_2d"),
                                            "ddconfig_2d.window_size", problems)
    in_2d = dd2.pop("in_channels", fields["in_channels"])
    if in_2d != fields["in_channels"]:
        problems.append(f"ddconfig_2d.in_channels={in_2d} must equal ddconfig.in_channels="
                        f"{fields['in_channels']}")
    if dd2.pop("out_z", None) is not False:
        problems.append("ddconfig_2d.out_z must be False (the decoder fuses 2D level features)")
    if "fs" in dd2 or dd2.get("f_s", f_s_2d) != f_s_2d:
        problems.append("ddconfig_2d.f_s/fs other than len(ch_mult)-1 is not supported")
    dd2.pop("f_s", None)
    if float(dd2.get("dropout", 0.0)) != 0.0:
        problems.append(f"ddconfig_2d.dropout={dd2['dropout']}: only 0.0 is supported")
    for key in ("z_channels", "out_ch", "temp_res", "f_t", "double_z", "use_3d_conv"):
        dd2.pop(key, None)  # unused by a 2D encoder without conv_out
    for key in sorted(dd2):
        if key not in _DD_HARMLESS:
            unknown.append(f"ddconfig_2d.{key}")

    # ------------------------------------------------------------ model-level fields
    fields["latent_channels"] = params.get("embed_dim")
    if fields["latent_channels"] is None:
        problems.append("embed_dim is required")

    if problems:
        raise ConfigError(f"unsupported official VAE config {source}: " + "; ".join(problems))
    if unknown:
        logger.warning("%s: keys not used by reducio (the release ignores them as well): %s",
                       source, ", ".join(unknown))
    try:
        return VAEConfig(**fields)
    except TypeError as exc:  # pragma: no cover - fields above are all VAEConfig fields
        raise ConfigError(f"cannot build VAEConfig from {source}: {exc}") from exc


def _window(value: Any, name: str, problems: list[str]) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return int(value[0])
    problems.append(f"{name}={value!r}: only square windows are supported")
    return 1


def detect_official_preset(state_dict: Mapping[str, Any]) -> str:
    """"ft4" or "ft2" for the two released checkpoints, told apart by their shapes.

    ft4 downsamples time at encoder levels 3 and 4, ft2 at level 4 only, so
    `encoder_3d.down.3.downsample.conv.weight` is 3x3x3 in ft4 and 1x3x3 in ft2, and the decoder
    middle runs at T/4 vs T/2 (`decoder.mid.fuse.0.pos_embed` length 4 vs 8). Every other shape
    must match the released architecture too; anything else raises CheckpointError.
    """
    inferred = infer_official_config(state_dict)
    for name in RELEASED_PRESETS:
        if inferred == VAEConfig.preset(name):
            return name
    reference = VAEConfig.preset(DEFAULT_VARIANT)
    diffs = [f"{f}={getattr(inferred, f)!r} (released: {getattr(reference, f)!r})"
             for f in reference.to_dict() if getattr(inferred, f) != getattr(reference, f)
             and f != "log2_time_downsample"]
    raise CheckpointError(
        "the weights are not one of the released Reducio-VAE checkpoints (ft4/ft2): "
        + "; ".join(diffs) + ". Pass config= (a VAEConfig, a preset name, the official YAML or "
        "our config.json) to load them."
    )


def infer_official_config(state_dict: Mapping[str, Any]) -> VAEConfig:
    """A VAEConfig whose weights have exactly these shapes (official key names).

    Shapes fix the widths, levels, res blocks, latent channels, the time factor (which encoder
    downsamplers are 3x3x3) and the frame count (cross-attention `pos_embed` lengths). The
    attention window, which the weights do not record, takes the released value; pass config= when
    a checkpoint was trained with another.
    """
    params = infer_official_params(state_dict)
    return config_from_official_params(params, source="shapes of the state dict")
