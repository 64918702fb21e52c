"""torch.utils.data against real torch: datasets, samplers, DataLoader batching/collation/errors, and worker
processes."""
import collections
import os
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import funcgrad as fg
import funcgrad.utils.data as fud

sys.path.insert(0, os.path.dirname(__file__))
import _data_workers as W  # noqa: E402


def tolist(x):
    if isinstance(x, (fg.Tensor, torch.Tensor)):
        return ("T", str(x.dtype).replace("torch.", ""), x.tolist())
    if isinstance(x, dict):
        return {k: tolist(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [tolist(v) for v in x])
    return x


def both(make):
    """make(mod, lib) -> value, for (torch.utils.data, torch) and (funcgrad.utils.data, funcgrad)."""
    return make(tud, torch), make(fud, fg)


def same(make):
    t, f = both(make)
    assert tolist(f) == tolist(t)
    return f


@pytest.mark.parametrize("bs,drop", [(1, False), (3, False), (3, True), (4, True), (10, False), (11, True)])
def test_sequential_batches_like_torch(bs, drop):
    def make(m, lib):
        ds = m.TensorDataset(lib.arange(20.).reshape(10, 2), lib.arange(10))
        dl = m.DataLoader(ds, batch_size=bs, drop_last=drop)
        return [len(dl)] + [b for b in dl]
    same(make)


def test_batch_size_none_and_default_convert():
    def make(m, lib):
        ds = m.TensorDataset(lib.arange(6.).reshape(3, 2))
        return list(m.DataLoader(ds, batch_size=None)) + [m.default_convert((np.ones(2, np.float32), [np.int64(3)]))]
    same(make)


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [1, 2, 3], [1.5, 2.5], [True, False], ["a", "b"], [np.float32(1.5), np.float32(2)], [np.arange(3), np.arange(3)],
    [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}], [(1, "x"), (2, "y")], [[1, 2], [3, 4]],
    [Point(1, 2.0), Point(3, 4.0)], [collections.OrderedDict(z=1, a=2)] * 2,
], ids=lambda b: type(b[0]).__name__)
def test_default_collate_like_torch(batch):
    t = tud.default_collate(batch)
    f = fud.default_collate(batch)
    assert tolist(f) == tolist(t)
    assert type(f).__name__ == type(t).__name__


def test_default_collate_tensors_and_errors():
    same(lambda m, lib: m.default_collate([lib.ones(2, 3), lib.zeros(2, 3)]))
    for bad, exc in [([object(), object()], TypeError), ([[1, 2], [3]], RuntimeError),
                     ([np.array(["a"]), np.array(["b"])], TypeError)]:
        with pytest.raises(exc) as te:
            tud.default_collate(bad)
        with pytest.raises(exc) as fe:
            fud.default_collate(bad)
        assert str(fe.value).split(";")[0] == str(te.value).split(";")[0]


def test_datasets_like_torch():
    def make(m, lib):
        a = m.TensorDataset(lib.arange(5))
        b = m.TensorDataset(lib.arange(10, 13))
        c = m.ConcatDataset([a, b])
        s = m.Subset(c, [6, 0, 7])
        st = m.StackDataset(a, lib.arange(5) * 2)
        sk = m.StackDataset(x=a, y=lib.arange(5))
        return [len(c), c[5], c[-1], c.cumulative_sizes, len(s), s[0], s[2], (a + b)[6], len(st), st[1], sk[2]]
    same(make)
    for m, lib in ((tud, torch), (fud, fg)):
        with pytest.raises(AssertionError, match="Size mismatch between tensors"):
            m.TensorDataset(lib.ones(2), lib.ones(3))
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            m.StackDataset([1], [1, 2])
        with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
            m.ConcatDataset([])


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34], [0.1] * 10])
def test_random_split_sizes_like_torch(lengths):
    def make(m, lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts = m.random_split(range(10), lengths, generator=lib.Generator().manual_seed(0))
        return [len(p) for p in parts], sorted(i for p in parts for i in p)
    same(make)
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        fud.random_split(range(10), [3, 3])
    a = fud.random_split(range(10), [5, 5], generator=fg.Generator().manual_seed(1))
    b = fud.random_split(range(10), [5, 5], generator=fg.Generator().manual_seed(1))
    assert [list(p) for p in a] == [list(p) for p in b]


def test_random_samplers():
    fg.manual_seed(0)
    order1 = [int(i) for b in fud.DataLoader(range(10), batch_size=4, shuffle=True) for i in b]
    fg.manual_seed(0)
    order2 = [int(i) for b in fud.DataLoader(range(10), batch_size=4, shuffle=True) for i in b]
    assert order1 == order2 and sorted(order1) == list(range(10))
    g = fg.Generator().manual_seed(3)
    o3 = [int(i) for b in fud.DataLoader(range(10), batch_size=4, shuffle=True, generator=g) for i in b]
    assert sorted(o3) == list(range(10))
    rs = fud.RandomSampler(range(5), replacement=True, num_samples=70, generator=fg.Generator().manual_seed(0))
    draws = list(rs)
    assert len(draws) == len(rs) == 70 and set(draws) <= set(range(5))
    rs = fud.RandomSampler(range(4), num_samples=10)
    d = list(rs)
    assert len(d) == 10 and sorted(d[:4]) == [0, 1, 2, 3] and sorted(d[4:8]) == [0, 1, 2, 3]
    sr = list(fud.SubsetRandomSampler([10, 20, 30]))
    assert sorted(sr) == [10, 20, 30]
    w = list(fud.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 50))
    assert len(w) == 50 and set(w) <= {1, 3}
    w = list(fud.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(w) == [0, 1, 2]


def test_sampler_argument_errors_like_torch():
    cases = [
        lambda m: m.RandomSampler(range(3), replacement=1),
        lambda m: m.RandomSampler(range(3), num_samples=0),
        lambda m: m.WeightedRandomSampler([1.0], 0),
        lambda m: m.WeightedRandomSampler([1.0], 2, replacement=None),
        lambda m: m.WeightedRandomSampler([[1.0]], 2),
        lambda m: m.BatchSampler(range(3), 0, False),
        lambda m: m.BatchSampler(range(3), 2, 0),
        lambda m: m.DataLoader(range(3), num_workers=-1),
        lambda m: m.DataLoader(range(3), timeout=-1),
        lambda m: m.DataLoader(range(3), prefetch_factor=2),
        lambda m: m.DataLoader(range(3), persistent_workers=True),
        lambda m: m.DataLoader(range(3), sampler=[0, 1], shuffle=True),
        lambda m: m.DataLoader(range(3), batch_sampler=[[0]], batch_size=2),
        lambda m: m.DataLoader(range(3), batch_size=None, drop_last=True),
        lambda m: m.DataLoader(m.ChainDataset([]), shuffle=True),
        lambda m: m.DataLoader(m.ChainDataset([]), sampler=[0]),
        lambda m: m.distributed.DistributedSampler(range(3), num_replicas=2, rank=2),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(tud)
        with pytest.raises(Exception) as fe:
            case(fud)
        assert type(fe.value) is type(te.value), (te.value, fe.value)
        assert str(fe.value).replace("funcgrad", "torch") == str(te.value)


def test_setting_attributes_after_init():
    dl = fud.DataLoader(range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 2


def test_batch_sampler_and_custom_collate_like_torch():
    def make(m, lib):
        ds = m.TensorDataset(lib.arange(10))
        bs = m.BatchSampler(m.SequentialSampler(ds), 3, False)
        dl = m.DataLoader(ds, batch_sampler=bs, collate_fn=lambda b: [int(x[0]) for x in b])
        dl2 = m.DataLoader(ds, sampler=[9, 8, 1], batch_size=2)
        return [len(bs), list(bs), len(dl), list(dl), list(dl2)]
    same(make)


@pytest.mark.parametrize("n,shuffle,drop", [(10, False, False), (11, False, False), (11, False, True),
                                            (11, True, False), (2, False, False), (13, True, True)])
def test_distributed_sampler_like_torch(n, shuffle, drop):
    for reps in (1, 3, 4):
        out = {}
        for name, m in (("t", tud), ("f", fud)):
            ss = [m.distributed.DistributedSampler(range(n), num_replicas=reps, rank=r, shuffle=shuffle, seed=5,
                                                   drop_last=drop) for r in range(reps)]
            for s in ss:
                s.set_epoch(2)
            out[name] = [len(s) for s in ss], [list(s) for s in ss]
        assert out["f"][0] == out["t"][0]
        if not shuffle:
            assert out["f"][1] == out["t"][1]
        else:
            fl = sorted(i for part in out["f"][1] for i in part)
            tl = sorted(i for part in out["t"][1] for i in part)
            assert len(fl) == len(tl) and set(fl) <= set(range(n))
    s = fud.distributed.DistributedSampler(range(8), num_replicas=2, rank=0, shuffle=True)
    s.set_epoch(0)
    a = list(s)
    s.set_epoch(1)
    assert list(s) != a or True  # another permutation (may coincide)
    s.set_epoch(0)
    assert list(s) == a


def test_iterable_dataset_single_process_like_torch():
    def make(m, lib):
        class It(m.IterableDataset):
            def __iter__(self):
                return iter(range(7))

            def __len__(self):
                return 7
        return [len(m.DataLoader(It(), batch_size=3)), list(m.DataLoader(It(), batch_size=3)),
                list(m.DataLoader(It(), batch_size=3, drop_last=True)), list(m.DataLoader(It(), batch_size=None))]
    same(make)


def test_pin_memory_accepted():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dl = fud.DataLoader(fud.TensorDataset(fg.ones(4, 2)), batch_size=2, pin_memory=True)
    if not fg.cuda.is_available():
        assert any("pin_memory" in str(x.message) for x in w)
    assert len(list(dl)) == 2


# -- worker processes -------------------------------------------------------------------------------
def test_workers_match_single_process_and_reraise():
    ds = W.Squares()
    single = list(fud.DataLoader(ds, batch_size=3))
    dl = fud.DataLoader(ds, batch_size=3, num_workers=2, worker_init_fn=W.record_worker, prefetch_factor=1)
    multi = list(dl)
    assert tolist(multi) == tolist(single)
    assert multi[0]["x"].dtype is fg.float32 and multi[0]["i"].dtype is fg.int64 and multi[0]["name"] == ["s0", "s1", "s2"]
    ds.fail = True
    with pytest.raises(ValueError, match="(?s)Caught ValueError in DataLoader worker process [01].*bad sample 7"):
        list(fud.DataLoader(ds, batch_size=3, num_workers=2))


def test_iterable_workers_and_persistent():
    dl = fud.DataLoader(W.Shards(10), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):  # two epochs on the same workers
        got = sorted(int(i) for b in dl for i in b)
        assert got == list(range(10))
    it = dl._iterator
    assert it is not None and all(w.is_alive() for w in it._workers)
    it._shutdown_workers()


def test_worker_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 2 seconds"):
        list(fud.DataLoader(W.Slow(), batch_size=2, num_workers=1, timeout=2))
