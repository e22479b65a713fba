"""A resumable, sharded stream of training batches.

The stream's position is (epoch, batches consumed in that epoch). The order of epoch e is a
permutation drawn from a generator seeded with (seed, e), never from the global RNG, so saving
the position is enough to continue the exact same stream after a restart; each process takes
every world-th item of the permutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from reducio.errors import ConfigError


@dataclass(frozen=True)
class StreamPosition:
    epoch: int = 0
    batch: int = 0  # batches of this process already consumed in `epoch`


class EpochShardSampler(Sampler[int]):
    """Indices of one epoch for one process, starting after `start_batch` batches."""

    def __init__(self, length: int, *, batch_size: int, seed: int, epoch: int, shuffle: bool,
                 rank: int = 0, world_size: int = 1, start_batch: int = 0) -> None:
        self.length = length
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = epoch
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch

    @property
    def batches_per_epoch(self) -> int:
        return (self.length // self.world_size) // self.batch_size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.length, generator=generator)
        else:
            order = torch.arange(self.length)
        per_rank = self.length // self.world_size
        mine = order[: per_rank * self.world_size][self.rank :: self.world_size]
        end = self.batches_per_epoch * self.batch_size
        return iter(mine[self.start_batch * self.batch_size : end].tolist())

    def __len__(self) -> int:
        return max(0, (self.batches_per_epoch - self.start_batch) * self.batch_size)


class BatchStream:
    """Endless batches over epochs; `position` after n `next()` calls is where a resume restarts."""

    def __init__(self, dataset: Dataset, *, batch_size: int, seed: int = 0, shuffle: bool = True,
                 num_workers: int = 0, rank: int = 0, world_size: int = 1,
                 position: StreamPosition = StreamPosition(), pin_memory: bool = False) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.num_workers = num_workers
        self.rank = rank
        self.world_size = world_size
        self.pin_memory = pin_memory
        self.position = position
        length = len(dataset)
        if length // world_size < batch_size:
            raise ConfigError(
                f"the dataset has {length} items, fewer than batch_size {batch_size} x {world_size} processes; "
                "add data or lower data.batch_size"
            )
        self._iterator: Iterator[Any] | None = None

    def _open(self) -> None:
        if hasattr(self.dataset, "set_epoch"):  # per-epoch augmentation seeds (VideoFolderDataset)
            self.dataset.set_epoch(self.position.epoch)
        sampler = EpochShardSampler(
            len(self.dataset), batch_size=self.batch_size, seed=self.seed, epoch=self.position.epoch,
            shuffle=self.shuffle, rank=self.rank, world_size=self.world_size, start_batch=self.position.batch,
        )
        # A private generator seeds the workers: the DataLoader must not draw from the global RNG,
        # or a resumed run would see different model noise than an uninterrupted one.
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.position.epoch + 7919 * self.rank)
        loader = DataLoader(
            self.dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
            drop_last=True, generator=generator, pin_memory=self.pin_memory,
            persistent_workers=False,
        )
        self._iterator = iter(loader)

    def next(self) -> Any:
        for _ in range(2):
            if self._iterator is None:
                self._open()
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                self.position = StreamPosition(epoch=self.position.epoch + 1, batch=0)
                continue
            self.position = StreamPosition(epoch=self.position.epoch, batch=self.position.batch + 1)
            return batch
        raise RuntimeError("the data stream produced no batch in a whole epoch")


def first_items_batch(dataset: Dataset, count: int) -> dict[str, Any] | None:
    """The first `count` items of `dataset` collated into a batch (fixed reconstruction samples)."""
    count = min(count, len(dataset))
    if count <= 0:
        return None
    loader = DataLoader(torch.utils.data.Subset(dataset, list(range(count))), batch_size=count, shuffle=False)
    return next(iter(loader))
