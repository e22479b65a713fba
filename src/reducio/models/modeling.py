"""What every reducio model shares as a diffusers model: its typed config, and strict loading.

One config system. A model's architecture is a frozen, typed dataclass (`VAEConfig`,
`DiTConfig`): the fields, their defaults, their checks and the named presets live there and
nowhere else. diffusers' `ConfigMixin` stores the same fields (`model.config`, a FrozenDict,
what `save_pretrained` writes to config.json); `model.arch` is the typed, validated object with
the derived sizes (`vae.arch.latent_frames`). A model is built from either:

    ReducioVAE(VAEConfig.preset("tiny"))          # a config object
    ReducioVAE.from_config("tiny")                # a preset name, a config object or a dict
    ReducioVAE(latent_channels=16, frames=16)     # the fields as keywords, as diffusers does

Loading is strict where diffusers is lenient: `ModelMixin.from_pretrained` only logs missing and
unexpected keys and `ConfigMixin` only warns about unknown config keys; here they raise
`CheckpointError` / `ConfigError` naming the keys (and, for config keys, the valid ones).
`from_pretrained` also takes the built-in names ("tiny"), and folders written before the models
were diffusers classes (config.json + model.safetensors), which `reducio convert` upgrades.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch

from reducio.configs import Config, check_keys
from reducio.loading.safe_load import (
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIX,
    load_checkpoint_state_dict,
    read_safetensors,
)
from reducio.loading.saving import restore_aliases, save_safetensors
from reducio.loading.state_dict import load_state_dict_strict
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError
from reducio.loading.sources import check_hub_reachable, hub_error, resolve_local

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
LEGACY_WEIGHTS = ("model.safetensors", "model.pt")  # folders written before the diffusers format
META_CONFIG, META_CLASS = "reducio_config", "reducio_class"  # single-file .safetensors metadata
# Keys diffusers itself adds to a model's config (private "_..." keys are skipped as well).
_DIFFUSERS_CONFIG_KEYS = frozenset({"quantization_config"})


def takes_config(config_class: type[Config]) -> Callable[[Callable], Callable]:
    """Give a model's `__init__(self, config=None, **fields)` the signature diffusers reads.

    `ConfigMixin` learns a model's config keys from its `__init__` signature; this decorator
    spells `config_class`'s fields out as keyword-only parameters with their defaults, so the
    fields are written in one place (the dataclass) and not repeated in every model.
    """
    def decorate(init: Callable) -> Callable:
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                  inspect.Parameter("config", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
        for f in dataclasses.fields(config_class):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = inspect.Parameter.empty
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default))
        # Older config.json files hold runtime keys: diffusers passes them in, the model applies them.
        params += [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None)
                   for key in config_class.RUNTIME_KEYS]
        init.__signature__ = inspect.Signature(params)
        return init

    return decorate


class PlainDtypeCastMixin:
    """`model.to(dtype)` without diffusers' warning about modules "that should be kept in float32: []".

    diffusers' `ModelMixin.to` logs that warning on every dtype cast, also when the model keeps no
    module in float32 (its `_keep_in_fp32_modules` is empty, as for every reducio model), so a
    user asking for bf16 would read a warning that names nothing. Mixed in before `ModelMixin`;
    a model that does list float32 modules gets diffusers' behaviour unchanged.
    """

    def to(self, *args: Any, **kwargs: Any):
        if getattr(self, "_keep_in_fp32_modules", None):
            return super().to(*args, **kwargs)
        with _no_empty_fp32_modules_warning():
            return super().to(*args, **kwargs)


class _DropEmptyFp32ModulesWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


@contextlib.contextmanager
def _no_empty_fp32_modules_warning() -> Iterator[None]:
    diffusers_logger = logging.getLogger("diffusers.models.modeling_utils")
    dropped = _DropEmptyFp32ModulesWarning()
    diffusers_logger.addFilter(dropped)
    try:
        yield
    finally:
        diffusers_logger.removeFilter(dropped)


class ReducioModelMixin(PlainDtypeCastMixin):
    """Mixed in before diffusers' `ModelMixin, ConfigMixin` by every reducio model."""

    config_class: ClassVar[type[Config]]
    builtin_kind: ClassVar[str]  # built-in names resolve to assets/<builtin_kind>-<name>/
    # preset name -> the runtime settings a model built from that name starts with
    preset_runtime: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    # ------------------------------------------------------------------ config
    def _register_arch(self, config: Config | str | None,
                       fields: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(typed config, runtime settings) from `config` or the keyword fields; the typed config
        is also registered with diffusers. The model applies the runtime settings once built."""
        arch, runtime = self.resolve_config(config, fields)
        self.register_to_config(**arch.to_dict())
        self._arch = arch
        return arch, runtime

    @classmethod
    def resolve_config(cls, config: Any = None, fields: Mapping[str, Any] | None = None
                       ) -> tuple[Any, dict[str, Any]]:
        """(a `config_class` instance, runtime settings) from an instance, a preset name, a file,
        a dict or keyword fields. Runtime keys of older configs (`config_class.RUNTIME_KEYS`) come
        back as settings to apply, with a logged notice; a preset brings its own
        (`preset_runtime`)."""
        fields = {k: v for k, v in (fields or {}).items() if not k.startswith("_")}
        if config is not None and fields:
            raise ConfigError(f"{cls.__name__}: pass a config or keyword fields, not both "
                              f"(got config={config!r} and {sorted(fields)})")
        if config is None:
            return cls._from_mapping(fields, source=f"{cls.__name__} config (keyword arguments or config.json)")
        if isinstance(config, cls.config_class):
            return config, {}
        if isinstance(config, (str, os.PathLike)) and Path(config).expanduser().is_file():
            return cls._config_from_file(Path(config).expanduser())
        if isinstance(config, str) and hasattr(cls.config_class, "preset"):
            return cls.config_class.preset(config), dict(cls.preset_runtime.get(config, {}))
        if isinstance(config, Mapping):
            return cls._from_mapping(_own_keys(config), source=f"{cls.__name__} config")
        raise ConfigError(f"{cls.__name__} config must be a {cls.config_class.__name__}, a preset "
                          f"name or a dict, got {type(config).__name__}")

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any], *, source: str) -> tuple[Any, dict[str, Any]]:
        arch_data, runtime = cls.config_class.split_runtime_keys(data, source=source)
        return cls.config_class.from_dict(arch_data), runtime

    @classmethod
    def _config_from_file(cls, path: Path) -> tuple[Any, dict[str, Any]]:
        """A config.json (ours or diffusers'), or the release's YAML where the model has one."""
        if path.suffix in (".yaml", ".yml"):
            return cls._config_from_official_yaml(path)
        return cls._from_mapping(_own_keys(_json(path.read_text(), str(path))), source=str(path))

    @classmethod
    def _config_from_official_yaml(cls, path: Path) -> tuple[Any, dict[str, Any]]:
        """(config, runtime settings) of a release YAML; models with such a format override it."""
        raise ConfigError(f"{cls.config_class.__name__} has no official YAML format; "
                          f"pass a {CONFIG_NAME}")

    def apply_runtime_settings(self, settings: Mapping[str, Any]) -> None:
        """Set runtime switches named by `config_class.RUNTIME_KEYS`; models that have some
        override this."""
        if settings:
            raise ConfigError(f"{type(self).__name__} has no runtime settings; got {sorted(settings)}")

    @property
    def arch(self) -> Any:
        """The typed architecture config (`config_class`), with its derived sizes."""
        return self._arch

    @classmethod
    def from_config(cls, config: Any = None, return_unused_kwargs: bool = False, **kwargs: Any):
        """diffusers' `from_config`, also taking a typed config or a preset name; unknown keys
        raise ConfigError naming the valid ones."""
        runtime: dict[str, Any] = {}
        if isinstance(config, (str, Config)):
            arch, runtime = cls.resolve_config(config)
            config = arch.to_dict()
        if config is not None:
            check_keys(cls.config_class, _arch_keys(cls.config_class, config))
        result = super().from_config(config, return_unused_kwargs, **kwargs)
        (result[0] if return_unused_kwargs else result).apply_runtime_settings(runtime)
        return result

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """diffusers' `from_pretrained`, strict, plus built-in names and older folders.

        Accepts a folder written by `save_pretrained`, a Hub id, a built-in name ("tiny"), a
        folder in the older reducio layout (config.json + model.safetensors) and, through
        `from_single_file`, a weights file. kwargs are diffusers' (torch_dtype, subfolder,
        revision, cache_dir, local_files_only, variant, device_map, quantization_config, ...).
        `device=` moves the loaded model.

        Raises:
            ModelNotFoundError: nothing at that path or id.
            ConfigError: config.json holds keys the model does not know (named with the valid ones).
            CheckpointError: missing, unexpected or mis-shaped weights (each named).
        """
        device = kwargs.pop("device", None)
        subfolder = kwargs.get("subfolder")
        local = resolve_local(pretrained_model_name_or_path, cls.builtin_kind)
        if local is not None and local.is_file():
            model = cls.from_single_file(local, torch_dtype=kwargs.get("torch_dtype"))
        elif local is not None and _is_legacy_folder(local / (subfolder or "")):
            model = cls._from_legacy_folder(local / (subfolder or ""), kwargs.get("torch_dtype"))
        else:
            model = cls._from_diffusers(local, pretrained_model_name_or_path, kwargs)
        if device is not None:
            model.to(device)
        return model.eval()

    @classmethod
    def _from_diffusers(cls, local: Path | None, name: str | os.PathLike, kwargs: dict):
        source = os.fspath(local if local is not None else name)
        if local is None:
            check_hub_reachable(source, cls.builtin_kind,
                                local_files_only=bool(kwargs.get("local_files_only")))
        else:
            folder = local / (kwargs.get("subfolder") or "")
            if not (folder / CONFIG_NAME).is_file():
                found = sorted(p.name for p in folder.iterdir())[:12] if folder.is_dir() else []
                raise ModelNotFoundError(f"{folder} holds no {cls.__name__}: expected {CONFIG_NAME} "
                                         f"and diffusion_pytorch_model.safetensors; found "
                                         f"{found or 'nothing'}")
        try:
            config = cls.load_config(source, **_config_kwargs(kwargs))
        except (OSError, ValueError, EnvironmentError) as error:
            if local is None:
                raise hub_error(source, cls.builtin_kind, error) from None
            raise ConfigError(f"{source}: cannot read {CONFIG_NAME}: {error}") from None
        check_keys(cls.config_class, _arch_keys(cls.config_class, config))
        try:
            model, info = super().from_pretrained(source, output_loading_info=True, **kwargs)
        except (OSError, EnvironmentError) as error:
            if local is None:
                raise hub_error(source, cls.builtin_kind, error) from None
            raise CheckpointError(f"{source}: cannot read the weights: {error}") from None
        except ValueError as error:  # diffusers' shape-mismatch and missing-key errors
            # diffusers' advice (ignore_mismatched_sizes: random weights in place of the file's) is no fix
            why = str(error).strip().splitlines()[0].split(" If you want to instead")[0]
            raise CheckpointError(f"{source} does not match {cls.__name__}: "
                                  f"{why.replace('Cannot load  because ', 'mis-shaped weight: ')} "
                                  f"({CONFIG_NAME} and the weights disagree: keep the {CONFIG_NAME} "
                                  "saved with these weights)") from None
        problems = [f"{len(info[key])} {key.replace('_', ' ')}: {sorted(map(str, info[key]))[:20]}"
                    for key in ("missing_keys", "unexpected_keys", "mismatched_keys") if info[key]]
        if problems:
            raise CheckpointError(f"{source} does not match {cls.__name__}: " + "; ".join(problems))
        return model

    @classmethod
    def from_single_file(cls, path: str | os.PathLike, *, config: Any = None,
                         torch_dtype: torch.dtype | None = None,
                         device: torch.device | str | None = None):
        """One weights file: a `.safetensors` written by `save_single_file` (its config travels in
        the metadata), or a bare state dict (`.safetensors` / pickle, read without running code)
        with `config=`."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"no such file: {str(path)!r}")
        stored = None
        if path.suffix == SAFETENSORS_SUFFIX:
            tensors, metadata = read_safetensors(path)
            if metadata.get(META_CLASS, cls.__name__) != cls.__name__:
                raise CheckpointError(f"{path} holds a {metadata[META_CLASS]}, not a {cls.__name__}; "
                                      f"load it with {metadata[META_CLASS]}.from_pretrained")
            state_dict = restore_aliases(tensors, metadata, str(path))
            if META_CONFIG in metadata:
                stored = _json(metadata[META_CONFIG], str(path))
        elif path.suffix in PICKLE_SUFFIXES:
            state_dict = load_checkpoint_state_dict(path)
        else:
            raise ModelNotFoundError(f"{path}: unknown weights file type {path.suffix!r}; expected "
                                     f"{SAFETENSORS_SUFFIX} or one of {', '.join(PICKLE_SUFFIXES)}")
        if config is None and stored is None:
            raise ConfigError(f"{path} stores no config; pass config= (a "
                              f"{cls.config_class.__name__} or a preset name)")
        return cls.from_state_dict(state_dict, config if config is not None else stored,
                                   source=str(path), torch_dtype=torch_dtype, device=device)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor], config: Any, *,
                        source: str = "state dict", torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None):
        """Build from a config (`resolve_config`) and load `state_dict` strictly (every key and
        shape); runtime settings the config holds are applied."""
        arch, runtime = cls.resolve_config(config)
        model = instantiate_for_loading(cls, arch)
        model.apply_runtime_settings(runtime)
        load_state_dict_strict(model, state_dict, source, dtype=torch_dtype)
        if device is not None:
            model.to(device)
        return model.eval()

    @classmethod
    def _from_legacy_folder(cls, folder: Path, torch_dtype: torch.dtype | None):
        logger.info("%s is in the older reducio layout (config.json + model.safetensors); "
                    "`reducio convert %s -o NEW` upgrades it", folder, folder)
        config = _json((folder / CONFIG_NAME).read_text(), str(folder / CONFIG_NAME))
        weights = next(folder / n for n in LEGACY_WEIGHTS if (folder / n).is_file())
        if weights.suffix == SAFETENSORS_SUFFIX:
            tensors, metadata = read_safetensors(weights)
            state_dict = restore_aliases(tensors, metadata, str(weights))
        else:
            state_dict = load_checkpoint_state_dict(weights)
        return cls.from_state_dict(state_dict, config, source=str(weights), torch_dtype=torch_dtype)

    # ------------------------------------------------------------------ saving
    def save_single_file(self, path: str | os.PathLike) -> Path:
        """One self-describing `.safetensors`: the config travels in its metadata."""
        path = Path(path)
        if path.suffix != SAFETENSORS_SUFFIX:
            raise ConfigError(f"single-file models are .safetensors files, got {path}; "
                              f"name it {path.stem}.safetensors")
        metadata = {META_CONFIG: json.dumps(self.arch.to_dict(), sort_keys=True),
                    META_CLASS: type(self).__name__}
        return save_safetensors(self.state_dict(), path, metadata)


def _own_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config dict without the keys diffusers adds ("_class_name", "_diffusers_version"...)."""
    return {k: v for k, v in dict(config).items()
            if not k.startswith("_") and k not in _DIFFUSERS_CONFIG_KEYS}


def _arch_keys(config_class: type[Config], config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a model's config dict without diffusers' own and without runtime keys (the
    model's `__init__` applies those, with a notice)."""
    own = _own_keys(config)
    return {k: v for k, v in own.items() if k not in config_class.RUNTIME_KEYS}


def _config_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    names = ("subfolder", "revision", "cache_dir", "local_files_only", "token", "force_download",
             "proxies")
    return {k: kwargs[k] for k in names if k in kwargs}


def _is_legacy_folder(folder: Path) -> bool:
    return (folder.is_dir() and (folder / CONFIG_NAME).is_file()
            and any((folder / n).is_file() for n in LEGACY_WEIGHTS)
            and not any(folder.glob("diffusion_pytorch_model*")))


def _json(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: the config is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a JSON object, got {type(data).__name__}")
    return data


def instantiate_for_loading(cls: type, arch: Any) -> torch.nn.Module:
    """`cls(arch)` without spending time and memory on a random init the weights replace.

    Built on the meta device when every tensor of the module is in its state dict and no weight
    is tied (loading with assign=True would untie it); otherwise built normally.
    """
    try:
        with torch.device("meta"):
            model = cls(arch)
    except (NotImplementedError, RuntimeError) as error:
        logger.debug("meta construction of %s failed (%s); building on CPU", cls.__name__, error)
        return cls(arch)
    saved = set(model.state_dict())
    tensors = [*model.named_parameters(remove_duplicate=False),
               *model.named_buffers(remove_duplicate=False)]
    tied = len({id(t) for _, t in tensors}) < len(tensors)
    unsaved = {name for name, _ in tensors} - saved  # non-persistent buffers would stay on meta
    # Plain tensor attributes (a table computed in __init__) are not loaded either.
    loose = any(isinstance(value, torch.Tensor) for module in model.modules()
                for value in vars(module).values())
    return cls(arch) if tied or unsaved or loose else model
