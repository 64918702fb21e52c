"""Datasets for the DataLoader worker tests (importable by spawned workers without real torch)."""
import funcgrad
from funcgrad.utils.data import Dataset, IterableDataset, get_worker_info


class Squares(Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        if i == 7 and getattr(self, "fail", False):
            raise ValueError("bad sample 7")
        return {"x": funcgrad.full((2,), float(i * i)), "i": i, "name": f"s{i}"}


class Shards(IterableDataset):
    """Yields 0..n-1 split between workers by get_worker_info(), as torch's docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def record_worker(worker_id):
    info = get_worker_info()
    assert info is not None and info.id == worker_id and info.num_workers == 2
    assert info.seed == info.seed  # readable


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        import time

        time.sleep(30)
        return i
