import torch
from torch.utils.data import Dataset

from reducio.training.data import BatchStream, EpochShardSampler, StreamPosition


class Numbers(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return torch.tensor(i)


def test_stream_continues_exactly_from_a_saved_position():
    straight = BatchStream(Numbers(), batch_size=3, seed=1)
    all_batches = [straight.next().tolist() for _ in range(7)]  # 3 batches per epoch: crosses two epochs
    first = BatchStream(Numbers(), batch_size=3, seed=1)
    head = [first.next().tolist() for _ in range(4)]
    resumed = BatchStream(Numbers(), batch_size=3, seed=1, position=first.position)
    tail = [resumed.next().tolist() for _ in range(3)]
    assert head + tail == all_batches
    assert first.position == StreamPosition(epoch=1, batch=1)
    assert all_batches[0] != all_batches[3]  # each epoch has its own order


def test_processes_get_disjoint_shards_of_each_epoch():
    shards = [list(EpochShardSampler(10, batch_size=2, seed=0, epoch=0, shuffle=True, rank=r, world_size=2))
              for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 4
    assert not set(shards[0]) & set(shards[1])
