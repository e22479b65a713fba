"""Find, load and save models: `from_pretrained` / `save_pretrained` for any reducio module.

A model class only needs `config_class` (a config with `to_dict` / `from_dict`) and a `config`
attribute on its instances. `load_pretrained(cls, path_or_id)` accepts, in this order:

1. a local folder: `config.json` + `model.safetensors` (what `save_pretrained` writes), or a
   folder holding an official checkpoint (`official=` given, e.g. a `hf download --local-dir`);
2. a local file: a self-describing `.safetensors` (`save_single_file`), a bare `.safetensors`
   state dict with `config=`, an official `.ckpt` (`official=` given), or another `.ckpt/.pt`
   state dict with `config=`;
3. a built-in name shipped with the package: `src/reducio/assets/<kind>-<name>/`;
4. a Hugging Face Hub id `org/name` (our folder layout, or the official repo with `official=`).

Pickle-based files are read by `reducio.convert.safe_load`, which never executes code.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from reducio.convert.safe_load import (
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIX,
    load_checkpoint_state_dict,
    read_safetensors,
)
from reducio.convert.saving import atomic_write, atomic_write_text, restore_aliases, save_safetensors
from reducio.convert.state_dict import load_state_dict_strict
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_WEIGHTS_NAME = "model.pt"  # save_pretrained(safe_serialization=False)
META_CONFIG, META_CLASS, META_VERSION = "reducio_config", "reducio_class", "reducio_format_version"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
           "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
           "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


@dataclass(frozen=True, kw_only=True)
class OfficialFormat:
    """How to read a model's original release (files, key clean-up, config from shapes)."""

    repo_id: str
    files: Mapping[str, str]  # variant -> file name in the repo
    default_variant: str
    clean: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]
    infer_config: Callable[[Mapping[str, torch.Tensor]], Any]

    def filename(self, variant: str | None) -> str:
        variant = variant or self.default_variant
        if variant in self.files.values():
            return variant
        if variant not in self.files:
            raise ConfigError(f"unknown variant {variant!r} for {self.repo_id}; "
                              f"valid: {sorted(self.files)}")
        return self.files[variant]


# ---------------------------------------------------------------------------- saving
def save_pretrained(
    module: nn.Module, directory: str | os.PathLike, safe_serialization: bool = True
) -> Path:
    """Write `config.json` + `model.safetensors` (or `model.pt`) into `directory`; returns it."""
    directory = Path(directory)
    config = _module_config(module)
    directory.mkdir(parents=True, exist_ok=True)
    state_dict = module.state_dict()
    if safe_serialization:
        save_safetensors(state_dict, directory / WEIGHTS_NAME, _describe(module, config))
    else:
        tensors = {k: v.detach().cpu() for k, v in state_dict.items()}
        atomic_write(directory / PICKLE_WEIGHTS_NAME, lambda tmp: torch.save(tensors, tmp))
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config.to_dict(), indent=2) + "\n")
    logger.info("saved %s to %s", type(module).__name__, directory)
    return directory


def save_single_file(module: nn.Module, path: str | os.PathLike) -> Path:
    """Write one self-describing `.safetensors`: the config travels in its metadata."""
    path = Path(path)
    if path.suffix != SAFETENSORS_SUFFIX:
        raise ConfigError(f"single-file models are .safetensors files, got {path}; "
                          f"name it {path.stem}.safetensors")
    return save_safetensors(module.state_dict(), path, _describe(module, _module_config(module)))


def _describe(module: nn.Module, config: Any) -> dict[str, str]:
    return {
        META_CONFIG: json.dumps(config.to_dict(), sort_keys=True),
        META_CLASS: type(module).__name__,
        META_VERSION: str(FORMAT_VERSION),
    }


def _module_config(module: nn.Module) -> Any:
    config = getattr(module, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ConfigError(f"{type(module).__name__} has no `config` with to_dict(); "
                          "cannot describe it on disk")
    return config


# ---------------------------------------------------------------------------- loading
def load_pretrained(
    cls: type[nn.Module],
    path_or_id: str | os.PathLike,
    *,
    config: Any = None,
    torch_dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    variant: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    kind: str | None = None,
    official: OfficialFormat | None = None,
) -> nn.Module:
    """Build `cls` with weights from `path_or_id` (forms: see the module docstring).

    Args:
        config: overrides the stored config; required for bare state dicts. A config object, a
            dict, a preset name, a path to our config.json or (if the class supports it) an
            official YAML.
        torch_dtype: cast floating-point weights (torch.float16, "bf16", ...).
        device: where the model ends up.
        variant: official release variant ("ft4", "ft2" or a file name), or else the weights
            file `model.<variant>.safetensors` of a folder.
        kind: asset folder prefix for built-in names (default: from the config class,
            "VAEConfig" -> "vae").
        official: the original-release reader, for classes that have one.
    Raises:
        ModelNotFoundError: nothing found at `path_or_id` (the message lists the accepted forms
            and, for hub ids, the exact download command).
        CheckpointError / UnsafeCheckpointError: the file does not fit the model or is unsafe.
    """
    dtype = resolve_dtype(torch_dtype)
    override = resolve_config(cls, config)
    state_dict, stored_config, source = _locate_and_read(
        cls, path_or_id, variant=variant, revision=revision, cache_dir=cache_dir,
        kind=kind or _default_kind(cls), official=official)
    if override is not None and stored_config is not None and override != stored_config:
        logger.warning("config= differs from the config stored with %s; using config=", source)
    final = override if override is not None else stored_config
    if final is None:
        if official is None:
            raise ConfigError(f"{source} stores no config; pass config= (a {cls.config_class.__name__}, "
                              "a preset name or a config.json path)")
        final = official.infer_config(state_dict)
        logger.info("config inferred from the weights' shapes of %s", source)
    model = instantiate_for_loading(cls, final)
    load_state_dict_strict(model, state_dict, source, dtype=dtype)
    if device is not None:
        model.to(device)
    return model.eval()


def _locate_and_read(cls, path_or_id, *, variant, revision, cache_dir, kind, official):
    """(state dict, stored config or None, source name) for any accepted form of `path_or_id`."""
    text = os.fspath(path_or_id)
    path = Path(text).expanduser()
    if path.is_dir():
        return _read_folder(cls, path, variant, official)
    if path.is_file():
        return _read_file(cls, path, official)
    builtin = _builtin_folder(kind, text)
    if builtin is not None:
        return _read_folder(cls, builtin, variant, official)
    if _is_preset(cls, text) and not (official is not None and text in official.files):
        raise ModelNotFoundError(
            f"the built-in weights {text!r} are not installed: expected the folder "
            f"{assets_root() / f'{kind}-{text}'} ({CONFIG_NAME} + {WEIGHTS_NAME}) inside the reducio "
            f"package. Reinstall reducio with its assets, or pass a folder/file path; "
            f"installed built-ins: {builtin_names(kind) or 'none'}"
        )
    if official is not None and text in official.files:  # "ft4" -> the release's ft4 file
        file = _download(official.repo_id, official.filename(text), revision, cache_dir)
        return _read_file(cls, file, official)
    weight_suffixes = (*PICKLE_SUFFIXES, SAFETENSORS_SUFFIX)
    if _HUB_ID.fullmatch(text) and not text.startswith(".") and path.suffix not in weight_suffixes:
        if official is not None and text.lower() == official.repo_id.lower():
            file = _download(official.repo_id, official.filename(variant), revision, cache_dir)
            return _read_file(cls, file, official)
        weights = f"model.{variant}.safetensors" if variant else WEIGHTS_NAME
        _download(text, CONFIG_NAME, revision, cache_dir)
        return _read_folder(cls, _download(text, weights, revision, cache_dir).parent, variant, official)
    raise ModelNotFoundError(_not_found_message(text, kind, official))


def _read_folder(cls, folder: Path, variant: str | None, official: OfficialFormat | None):
    weights = folder / (f"model.{variant}.safetensors" if variant and not official else WEIGHTS_NAME)
    config_file = folder / CONFIG_NAME
    if config_file.is_file() and weights.is_file():
        state_dict, _ = _read_safetensors(cls, weights)
        return state_dict, resolve_config(cls, config_file), str(weights)
    if config_file.is_file() and (folder / PICKLE_WEIGHTS_NAME).is_file():
        state_dict = load_checkpoint_state_dict(folder / PICKLE_WEIGHTS_NAME)
        return state_dict, resolve_config(cls, config_file), str(folder / PICKLE_WEIGHTS_NAME)
    if weights.is_file():  # no config.json: our weights file describes itself in its metadata
        return _read_file(cls, weights, official)
    if official is not None:
        name = official.filename(variant)
        if (folder / name).is_file():
            return _read_file(cls, folder / name, official)
    found = sorted(p.name for p in folder.iterdir())[:12]
    wanted = f"{CONFIG_NAME} + {weights.name}"
    if official is not None:
        wanted += f", or {official.filename(variant)}"
    raise ModelNotFoundError(f"folder {folder} holds no model: expected {wanted}; found {found or 'nothing'}")


def _read_file(cls, path: Path, official: OfficialFormat | None):
    if path.suffix == SAFETENSORS_SUFFIX:
        state_dict, metadata = _read_safetensors(cls, path)
        stored = metadata.get(META_CONFIG)
        if stored is not None:
            return state_dict, _config_from_json_text(cls, stored, str(path)), str(path)
        # A bare state dict: our key names, or (with `official`) the release's.
        return (official.clean(state_dict) if official else state_dict), None, str(path)
    if path.suffix in PICKLE_SUFFIXES:
        state_dict = load_checkpoint_state_dict(path)
        return (official.clean(state_dict) if official else state_dict), None, str(path)
    raise ModelNotFoundError(f"{path}: unknown weights file type {path.suffix!r}; expected "
                             f"{SAFETENSORS_SUFFIX} or one of {', '.join(PICKLE_SUFFIXES)}")


def _read_safetensors(cls, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    tensors, metadata = read_safetensors(path)
    stored_class = metadata.get(META_CLASS)
    if stored_class is not None and stored_class != cls.__name__:
        raise CheckpointError(f"{path} holds a {stored_class}, not a {cls.__name__}; load it with "
                              f"{stored_class}.from_pretrained")
    version = metadata.get(META_VERSION)
    if version is not None and version.isdigit() and int(version) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer reducio (format {version} > "
                              f"{FORMAT_VERSION}); upgrade reducio")
    return restore_aliases(tensors, metadata, str(path)), metadata


# ---------------------------------------------------------------------------- config / dtype
def resolve_config(cls: type, config: Any) -> Any:
    """A `cls.config_class` instance from an instance, dict, JSON/YAML path or preset name."""
    config_class = getattr(cls, "config_class", None)
    if config is None or config_class is None or isinstance(config, config_class):
        return config
    if isinstance(config, Mapping):
        return config_class.from_dict(dict(config))
    if isinstance(config, (str, os.PathLike)):
        path = Path(config).expanduser()
        if path.is_dir():
            path = path / CONFIG_NAME
        if path.is_file():
            if path.suffix in (".yaml", ".yml"):
                if not hasattr(config_class, "from_official_yaml"):
                    raise ConfigError(f"{config_class.__name__} has no official YAML format; "
                                      f"pass {CONFIG_NAME}")
                return config_class.from_official_yaml(path)
            return _config_from_json_text(cls, path.read_text(), str(path))
        if hasattr(config_class, "preset") and not path.suffix and os.sep not in str(config):
            return config_class.preset(str(config))  # unknown names raise ConfigError listing presets
        raise ConfigError(f"config {config!s} is neither an existing file nor a preset name")
    raise ConfigError(f"config must be a {config_class.__name__}, dict, path or preset name, "
                      f"got {type(config).__name__}")


def _config_from_json_text(cls: type, text: str, source: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: the config is not valid JSON: {error}") from error
    return cls.config_class.from_dict(data)


def resolve_dtype(torch_dtype: torch.dtype | str | None) -> torch.dtype | None:
    if torch_dtype is None or isinstance(torch_dtype, torch.dtype):
        return torch_dtype
    name = str(torch_dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ConfigError(f"unknown torch_dtype {torch_dtype!r}; use one of {sorted(_DTYPES)}")
    return _DTYPES[name]


# ---------------------------------------------------------------------------- model building
def instantiate_for_loading(cls: type[nn.Module], config: Any) -> nn.Module:
    """`cls(config)` without spending time and memory on a random init the weights replace.

    Built on the meta device when every tensor of the module is in its state dict and no weight
    is tied (loading with assign=True would untie it); otherwise built normally.
    """
    try:
        with torch.device("meta"):
            model = cls(config)
    except (NotImplementedError, RuntimeError) as error:
        logger.debug("meta construction of %s failed (%s); building on CPU", cls.__name__, error)
        return cls(config)
    saved = set(model.state_dict())
    tensors = list(model.named_parameters(remove_duplicate=False))
    tensors += list(model.named_buffers(remove_duplicate=False))
    tied = len({id(t) for _, t in tensors}) < len(tensors)
    unsaved = {name for name, _ in tensors} - saved  # non-persistent buffers would stay on meta
    # Plain tensor attributes (a table computed in __init__) are not loaded either.
    loose = any(isinstance(value, torch.Tensor) for module in model.modules()
                for value in vars(module).values())
    if tied or unsaved or loose:
        return cls(config)
    return model


# ---------------------------------------------------------------------------- built-ins and hub
def _default_kind(cls: type) -> str:
    config_class = getattr(cls, "config_class", None)
    name = config_class.__name__ if config_class else cls.__name__
    return name.removesuffix("Config").lower()


def assets_root() -> Path:
    return Path(str(resources.files("reducio").joinpath("assets")))


def builtin_names(kind: str) -> list[str]:
    root = assets_root()
    if not root.is_dir():
        return []
    prefix = f"{kind}-"
    return sorted(p.name[len(prefix):] for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix))


def _builtin_folder(kind: str, name: str) -> Path | None:
    """The asset folder for built-in `name`, None if `name` does not name a built-in."""
    if not re.fullmatch(r"[\w.-]+", name) or Path(name).suffix in (*PICKLE_SUFFIXES, ".safetensors"):
        return None
    folder = assets_root() / f"{kind}-{name}"
    if folder.is_dir():
        return folder
    return None


def _is_preset(cls: type, name: str) -> bool:
    config_class = getattr(cls, "config_class", None)
    if config_class is None or not hasattr(config_class, "preset"):
        return False
    try:
        config_class.preset(name)
    except ConfigError:
        return False
    return True


def _download(repo_id: str, filename: str, revision: str | None, cache_dir: str | os.PathLike | None) -> Path:
    from huggingface_hub import hf_hub_download

    from huggingface_hub import constants

    # The hub library reads HF_HUB_OFFLINE once at import; honour a later change too.
    offline = bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in (
        "1", "true", "yes", "on")
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir,
                                    local_files_only=offline))
    except Exception as error:  # offline, no network, missing repo/file, gated: all mean "get it by hand"
        reason = ("HF_HUB_OFFLINE is set and it is not in the cache" if offline
                  else f"{type(error).__name__}: {error}")
        local_dir = f"checkpoints/{repo_id.split('/')[-1]}"
        raise ModelNotFoundError(
            f"could not get {filename} from the Hugging Face Hub repo {repo_id} ({reason.splitlines()[0]}).\n"
            f"Download it on a machine with network access:\n"
            f"  hf download {repo_id} {filename} --local-dir {local_dir}\n"
            f"  (huggingface_hub < 1.0: huggingface-cli download {repo_id} {filename} "
            f"--local-dir {local_dir})\n"
            f"then load the local copy: from_pretrained('{local_dir}/{filename}')"
            + (" (or the folder)" if filename != CONFIG_NAME else "")
        ) from error


def _not_found_message(text: str, kind: str, official: OfficialFormat | None) -> str:
    forms = [f"a folder with {CONFIG_NAME} + {WEIGHTS_NAME}", "a .safetensors file"]
    if official is not None:
        forms.append(f"an official checkpoint file ({', '.join(official.files.values())})")
        forms.append(f"the hub id {official.repo_id} (variant= {sorted(official.files)})")
    forms.append("a hub id org/name")
    names = builtin_names(kind)
    builtin = (f"a built-in name ({', '.join(names)})" if names
               else f"a built-in name (none installed: src/reducio/assets/{kind}-<name>/ is absent)")
    forms.append(builtin)
    return f"no model at {text!r}: no such file or folder. Accepted: " + "; ".join(forms) + "."


class PretrainedMixin:
    """`from_pretrained` / `save_pretrained` / `save_single_file` for a module with `config_class`."""

    config_class: ClassVar[type]

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, **kwargs: Any) -> Any:
        return load_pretrained(cls, path_or_id, **kwargs)

    def save_pretrained(self, directory: str | os.PathLike, safe_serialization: bool = True) -> Path:
        return save_pretrained(self, directory, safe_serialization=safe_serialization)

    def save_single_file(self, path: str | os.PathLike) -> Path:
        return save_single_file(self, path)
