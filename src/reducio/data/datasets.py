"""`VideoFolderDataset`: fixed-length clips from a folder of real videos, for VAE / DiT training.

Each item is one window of `frames` frames at `fps`, cropped to `size`:
- train: a random start and one RandomResizedCrop (scale 0.5-1, ratio 3/4-4/3) shared by all
  frames, as the release's VAE training (docs/architecture.md §4.4);
- eval: the window in the middle of the clip, resized (short side) and centre-cropped.
- `buckets=256|512|1024`: every clip goes to its closest PixArt aspect-ratio bucket instead of a
  square (resize to cover + centre crop); batch with `BucketBatchSampler(dataset.bucket_keys())`.

Randomness comes from `numpy.random.default_rng([seed, epoch, index, attempt])`, so an item does
not depend on the number of DataLoader workers; call `set_epoch` for new windows each epoch.

A file that cannot be read (corrupt, empty, too short, no video stream) is logged, marked and
replaced by another file; the marks live in shared memory, so workers skip known-bad files and
`dataset.skipped` / `dataset.skip_summary()` in the main process count files marked in any worker.
"""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from reducio.data.buckets import closest_bucket
from reducio.data.sampling import check_mode, stride_for
from reducio.data.transforms import center_crop_box, parse_size, random_resized_crop_box
from reducio.data.video_io import VIDEO_EXTENSIONS, probe_video, read_video
from reducio.errors import ConfigError, VideoInputError

logger = logging.getLogger(__name__)

PATH_COLUMNS = ("path", "video", "video_path", "file", "filename", "videoid")
CAPTION_COLUMNS = ("caption", "text", "prompt", "name")
_OK, _UNREADABLE, _TOO_SHORT = 0, 1, 2


def load_captions(path: str | Path) -> list[tuple[str, str]]:
    """(video path, caption) pairs from a CSV (header with a path and a caption column) or JSONL."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"captions file {path} not found")
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    if not rows:
        raise ConfigError(f"captions file {path} holds no rows")
    columns = list(rows[0])
    path_key = next((c for c in PATH_COLUMNS if c in columns), None)
    caption_key = next((c for c in CAPTION_COLUMNS if c in columns), None)
    if path_key is None or caption_key is None:
        raise ConfigError(
            f"captions file {path} has columns {columns}; it needs a path column (one of "
            f"{', '.join(PATH_COLUMNS)}) and a caption column (one of {', '.join(CAPTION_COLUMNS)})"
        )
    return [(str(row[path_key]), str(row[caption_key] or "")) for row in rows]


class VideoFolderDataset(Dataset):
    """Clips of real videos; items {"video": (3, T, H, W) in [-1, 1], "caption", "index", "path"}.

    Args:
        root: folder of videos (searched recursively) or, with `captions`, the folder the
            captions' relative paths start from.
        captions: CSV or JSONL with a path and a caption column; then only its files are used.
        frames, fps, sampling: window length, target rate, "nearest" or the release's "stride".
        size: S or (H, W), multiples of 32 (ignored with `buckets`).
        train: random window + RandomResizedCrop(scale) vs middle window + centre crop.
        buckets: 256, 512 or 1024 to use PixArt's aspect-ratio buckets.
        max_attempts: files tried for one item before giving up (VideoInputError).
    """

    def __init__(self, root: str | Path, captions: str | Path | None = None, frames: int = 16,
                 size: int | tuple[int, int] = 256, fps: float | None = 16, sampling: str = "nearest",
                 train: bool = True, scale: tuple[float, float] = (0.5, 1.0), seed: int = 0,
                 buckets: int | None = None, max_attempts: int = 20):
        self.root = Path(root)
        if captions is not None:
            pairs = load_captions(captions)
            self.paths = [p if Path(p).is_absolute() else str(self.root / p) for p, _ in pairs]
            self.captions = [c for _, c in pairs]
        else:
            if not self.root.is_dir():
                raise ConfigError(f"video folder {self.root} not found")
            found = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
            self.paths = [str(p) for p in found]
            self.captions = [""] * len(found)
        if not self.paths:
            raise ConfigError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) under {self.root}")
        if frames < 1:
            raise ConfigError(f"frames must be >= 1, got {frames}")
        self.frames, self.fps, self.sampling = frames, fps, check_mode(sampling)
        self.size = None if buckets is not None else parse_size(size)
        self.buckets, self.train, self.scale, self.seed = buckets, train, tuple(scale), seed
        self.max_attempts = max_attempts
        self.epoch = 0
        # One byte per file in shared memory (inherited by DataLoader workers): 0 ok / unknown,
        # 1 unreadable, 2 too short. Lock-free: each byte has one writer value.
        self._marks = multiprocessing.RawArray("b", len(self.paths))

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    # ------------------------------------------------------------------------------ skipping

    @property
    def skipped(self) -> int:
        """Number of distinct files skipped so far (in this process or any worker)."""
        return sum(1 for mark in self._marks if mark != _OK)

    def skipped_paths(self) -> list[str]:
        return [p for p, mark in zip(self.paths, self._marks) if mark != _OK]

    def skip_summary(self) -> str:
        marks = list(self._marks)
        unreadable, short = marks.count(_UNREADABLE), marks.count(_TOO_SHORT)
        return (f"{unreadable + short} of {len(marks)} videos skipped "
                f"({unreadable} unreadable, {short} too short; see the warnings for each file)")

    def _mark(self, index: int, error: VideoInputError) -> None:
        mark = _TOO_SHORT if "too short" in str(error) else _UNREADABLE
        if self._marks[index] == _OK:
            logger.warning("skipping video %d: %s", index, error)
        self._marks[index] = mark

    # ------------------------------------------------------------------------------- loading

    def __getitem__(self, index: int) -> dict:
        last_error: VideoInputError | None = None
        candidate = index
        for attempt in range(self.max_attempts):
            rng = np.random.default_rng([self.seed, self.epoch, index, attempt])
            candidate = self._next_unmarked(candidate)
            if candidate is None:
                break
            try:
                video = self.load(candidate, rng)
                return {"video": video, "caption": self.captions[candidate], "index": candidate,
                        "path": self.paths[candidate]}
            except VideoInputError as error:
                self._mark(candidate, error)
                last_error = error
            # Replace the bad file by a random one (the release resamples a random index too).
            candidate = int(rng.integers(len(self.paths)))
        raise VideoInputError(
            f"no readable video for item {index} after {attempt + 1} attempt(s) "
            f"({self.skip_summary()}); last error: {last_error}"
        )

    def _next_unmarked(self, start: int) -> int | None:
        """`start`, or the first file after it (cyclically) not yet known to be bad."""
        n = len(self.paths)
        for offset in range(n):
            if self._marks[(start + offset) % n] == _OK:
                return (start + offset) % n
        return None

    def load(self, index: int, rng: np.random.Generator):
        """Read item `index` (no skipping): (3, T, H, W) in [-1, 1]; raises VideoInputError."""
        path = self.paths[index]
        info = probe_video(path)
        start = self._window_start(info, rng, path)
        if self.buckets is not None:
            out_size = closest_bucket(info.height, info.width, self.buckets)
            box = center_crop_box(info.height, info.width, out_size)
        elif self.train:
            box = random_resized_crop_box(info.height, info.width, self.size, rng, self.scale)
        else:
            box = center_crop_box(info.height, info.width, self.size)
        return read_video(path, num_frames=self.frames, fps=self.fps, start=start, sampling=self.sampling, box=box)

    def _window_start(self, info, rng: np.random.Generator, path: str) -> float:
        if self.fps is None or self.sampling == "stride":
            step = stride_for(info.fps, self.fps)
            last = info.num_frames - (self.frames - 1) * step - 1  # last valid first-frame index
            if last < 0:
                raise VideoInputError(
                    f"{path}: too short: {info.num_frames} frames, a window needs {(self.frames - 1) * step + 1}"
                )
            first = int(rng.integers(last + 1)) if self.train else last // 2
            return first / info.fps
        # The last target time must fall before the end of the last frame (num_frames / fps).
        latest = info.num_frames / info.fps - (self.frames - 1) / self.fps - 1e-3
        if latest < 0:
            raise VideoInputError(
                f"{path}: too short: {info.num_frames / info.fps:.2f} s, a window of {self.frames} frames at "
                f"{self.fps:g} fps needs {(self.frames - 1) / self.fps + 1 / info.fps:.2f} s"
            )
        return float(rng.uniform(0.0, latest)) if self.train else latest / 2

    def bucket_keys(self) -> list[tuple[int, int] | None]:
        """Each item's bucket (height, width) from its header; unreadable files get None (and a mark)."""
        if self.buckets is None:
            raise ConfigError("bucket_keys() needs VideoFolderDataset(..., buckets=256|512|1024)")
        keys: list[tuple[int, int] | None] = []
        for index, path in enumerate(self.paths):
            try:
                info = probe_video(path)
                keys.append(closest_bucket(info.height, info.width, self.buckets))
            except VideoInputError as error:
                self._mark(index, error)
                keys.append(None)
        return keys
