"""Where a model comes from: a built-in name, a local path or a Hugging Face Hub id.

A string is read in this order:

1. a built-in name shipped inside the package (`src/reducio/assets/<kind>-<name>/`, e.g. "tiny");
2. a local file or folder that exists;
3. something that is clearly meant as a local path (starts with `.`, `/` or `~`, ends in a file
   extension, or its first segment exists here) but does not exist: `ModelNotFoundError` at once,
   naming the path;
4. otherwise a Hub id `owner/name`. Before any download the Hub is probed with a short timeout,
   so that a machine without network fails in seconds, naming both readings (a local folder that
   is not there, a Hub repo that cannot be reached), instead of retrying for half a minute.
"""

from __future__ import annotations

import os
import re
import socket
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from reducio.errors import ModelNotFoundError

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_PROBE_TIMEOUT_S = 3.0
_FILE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".safetensors", ".json", ".yaml", ".yml")


def assets_root() -> Path:
    """The package's data folder of built-in weights."""
    return Path(str(resources.files("reducio").joinpath("assets")))


def builtin_names(kind: str) -> list[str]:
    """Names of the installed built-in models of `kind` ("vae", "pipeline", ...)."""
    root = assets_root()
    if not root.is_dir():
        return []
    prefix = f"{kind}-"
    return sorted(p.name[len(prefix):] for p in root.iterdir()
                  if p.is_dir() and p.name.startswith(prefix))


def builtin_folder(kind: str, name: str) -> Path | None:
    """The asset folder of built-in `name`, or None if `name` names no built-in of `kind`."""
    if not re.fullmatch(r"[\w.-]+", name) or Path(name).suffix:
        return None
    folder = assets_root() / f"{kind}-{name}"
    return folder if folder.is_dir() else None


def looks_local(text: str) -> bool:
    """True when `text` can only be meant as a local path (see the module docstring)."""
    if text.startswith((".", "/", "~")):
        return True
    suffix = Path(text).suffix.lower()
    if suffix in _FILE_SUFFIXES or (suffix and "/" not in text):
        return True
    parts = Path(text).parts
    return bool(parts) and Path(parts[0]).exists()


def resolve_local(text: str | os.PathLike, kind: str) -> Path | None:
    """The local folder or file `text` names (built-in names included), or None for a Hub id.

    Raises:
        ModelNotFoundError: `text` is clearly a local path that does not exist, or is neither a
            local path nor a plausible Hub id.
    """
    text = os.fspath(text)
    builtin = builtin_folder(kind, text)
    if builtin is not None:
        return builtin
    path = Path(text).expanduser()
    if path.exists():
        return path
    if looks_local(text):
        raise ModelNotFoundError(f"no such file or folder: {text!r} ({_accepted(kind)})")
    if not _HUB_ID.fullmatch(text):
        raise ModelNotFoundError(f"{text!r} is neither an existing local path nor a Hub id "
                                 f"owner/name ({_accepted(kind)})")
    return None


def check_hub_reachable(repo_id: str, kind: str, *, local_files_only: bool = False) -> None:
    """Fail fast, naming both readings of `repo_id`, when the Hub cannot be reached.

    Skipped offline (HF_HUB_OFFLINE or local_files_only): then only the local cache is read, and a
    miss is reported by `hub_error`.
    """
    from huggingface_hub import constants  # optional at run time; imported only for a Hub id

    if local_files_only or is_offline():
        return
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
            return
    except OSError as error:
        raise ModelNotFoundError(
            f"{repo_id!r}: no such local folder (did you run `reducio convert` to make it?), and "
            f"the Hugging Face Hub ({host}) could not be reached to read it as a Hub id "
            f"({type(error).__name__}: {error}). {_accepted(kind)}") from None


def hub_error(repo_id: str, kind: str, error: Exception, filename: str | None = None
              ) -> ModelNotFoundError:
    """The error for a Hub id that could not be loaded (missing repo, file, cache miss...).
    With `filename` (one known file of the repo) it gives the command that downloads it."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    offline = " (offline: HF_HUB_OFFLINE is set, only the local cache is read)" if is_offline() else ""
    fix = "If you have the files, pass their local path."
    if filename is not None:
        local_dir = f"checkpoints/{repo_id.split('/')[-1]}"
        fix = (f"Download it on a machine with network access: `hf download {repo_id} {filename} "
               f"--local-dir {local_dir}`, then pass {local_dir}/{filename}.")
    return ModelNotFoundError(
        f"{repo_id!r}: no such local folder, and it could not be loaded as a Hugging Face Hub id"
        f"{offline}: {reason}. {fix}")


def is_offline() -> bool:
    """HF_HUB_OFFLINE, read now (the hub library reads it once at import)."""
    from huggingface_hub import constants  # imported when asked: keeps `import reducio` light

    flag = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    return flag or bool(constants.HF_HUB_OFFLINE)


def _accepted(kind: str) -> str:
    names = builtin_names(kind)
    builtins = ", ".join(repr(n) for n in names) if names else "none installed"
    return (f"accepted: a folder saved by save_pretrained, a weights file, a Hub id owner/name, "
            f"or a built-in name ({builtins})")
