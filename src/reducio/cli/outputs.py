"""Output paths checked before any work: refused when they cannot be what the user meant.

Every command that writes checks its `-o` here, before models load, so a mistake costs a
millisecond and one line naming the path and the fix instead of a folder named `out.mp4` or an
error after an hour of encoding:

- a video file name (`.mp4` ...) where the command writes a folder (several inputs, `data synth`);
- an existing folder where a file is asked for, or an existing file where a folder is;
- a folder that cannot be created (a file on its path, no write permission);
- a file suffix the writer does not know.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reducio.data.video_io import VIDEO_EXTENSIONS
from reducio.data.video_write import WRITABLE_SUFFIXES
from reducio.errors import OutputPathError

# What `write_video` writes by suffix; no suffix = a folder of PNG frames.
VIDEO_SUFFIXES = tuple(suffix for suffix in WRITABLE_SUFFIXES if suffix.startswith("."))


def check_output_folder(path: str | Path, what: str = "output folder", option: str = "-o") -> Path:
    """A folder the command will create (or fill): not a file, not named like a video file, creatable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: is an existing file, but the {what} is a folder; "
                              "pass a folder path (new or existing)")
    if not path.exists() and path.suffix.lower() in VIDEO_SUFFIXES:
        raise OutputPathError(f"{option} {path}: names a {path.suffix} file, but the {what} is a folder "
                              f"(files are written inside it); pass a folder name such as "
                              f"{path.with_suffix('')}")
    _check_creatable(path, option)
    return path


def check_output_file(path: str | Path, suffixes: Sequence[str], what: str = "output file",
                      option: str = "-o") -> Path:
    """A file the command will write: a known suffix, not an existing folder, its folder creatable."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is an existing folder, but the {what} is a file; "
                              f"pass a file name (e.g. {path / ('out' + suffixes[0])}) or remove the folder")
    if path.suffix.lower() not in suffixes:
        raise OutputPathError(f"{option} {path}: the {what} must end in {' / '.join(suffixes)}, got "
                              f"{path.suffix or 'no suffix'!r}; e.g. {path.with_suffix(suffixes[0])}")
    _check_creatable(path.parent, option, file=path)
    return path


def check_video_output(path: str | Path, option: str = "-o") -> Path:
    """A video `write_video` can write: a file with a video suffix, or a folder of PNG frames (no suffix)."""
    path = Path(path)
    if path.suffix == "":
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"{option} {path}: is an existing file; a name without a suffix means a "
                                  f"folder of PNG frames: add a video suffix ({path}.mp4) or pick another name")
        _check_creatable(path, option)
        return path
    return check_output_file(path, VIDEO_SUFFIXES, "output video", option)


def output_paths(inputs: Sequence[Path], output: str | Path, suffix: str = ".mp4",
                 option: str = "-o") -> list[Path]:
    """One video per input: OUTPUT itself for one input named with a video suffix, else
    OUTPUT/<input stem><suffix> (stems made unique with a counter). Checked as in the module doc."""
    out = Path(output)
    if out.suffix.lower() in VIDEO_SUFFIXES:
        if len(inputs) != 1:
            raise OutputPathError(
                f"{option} {out}: names one {out.suffix} file, but {len(inputs)} inputs give {len(inputs)} "
                f"videos, written into a folder; pass a folder (e.g. {option} {out.with_suffix('')}) "
                "or one input")
        return [check_output_file(out, VIDEO_SUFFIXES, "output video", option)]
    check_output_folder(out, "output folder", option)
    seen: dict[str, int] = {}
    paths = []
    for path in inputs:
        path = Path(path)
        # a video's stem; a frame folder's whole name (a source recorded in a latent file may not exist here)
        stem = path.stem if path.is_file() or path.suffix.lower() in VIDEO_EXTENSIONS else path.name
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        target = out / (f"{stem}{suffix}" if count == 0 else f"{stem}-{count}{suffix}")
        if target.is_dir():
            raise OutputPathError(f"{option} {out}: {target} is an existing folder where the video of "
                                  f"{path} goes; remove it or pass another {option} folder")
        paths.append(target)
    return paths


def _check_creatable(folder: Path, option: str, file: Path | None = None) -> None:
    """The folder exists or can be made: no file on its path, and its nearest existing ancestor is writable."""
    named = file if file is not None else folder
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputPathError(f"{option} {named}: cannot create the folder {folder}: {probe} is a file; "
                              "pick a path that does not go through a file")
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {named}: cannot write under {probe} (no write permission); "
                              "pick a folder you can write to")
