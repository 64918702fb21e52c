"""``torch.optim.swap_in_optimizer_params_and_state``: run an optimizer on other parameters and state
for the duration of a ``with`` block (the live ones restored on exit)."""
from __future__ import annotations

import contextlib
from collections import defaultdict

from ..tensor import Tensor

__all__ = ["swap_in_optimizer_params_and_state"]

_PREFIX = "swap_in_optimizer_params_and_state requires "


def _prepare_swap_in(optimizer, swapin_parameters, swapin_optim_state):
    if not optimizer.state:
        raise RuntimeError(_PREFIX + "initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        raise RuntimeError(_PREFIX + "a DCP-style optimizer state_dict.")
    state = swapin_optim_state.get("state")
    if not isinstance(state, dict):
        raise RuntimeError(_PREFIX + "swapin_optim_state['state'] to be a dict mapping packed parameter ids to "
                           f"per-param state dicts, got {type(state).__name__}.")
    if any(isinstance(k, Tensor) for k in state):
        raise RuntimeError(_PREFIX + "optimizer.state_dict()-style state keyed by packed parameter ids.")
    if any(isinstance(k, int) and not isinstance(v, dict) for k, v in state.items()):
        raise RuntimeError(_PREFIX + "per-parameter optimizer state entries to be dictionaries.")
    groups = swapin_optim_state.get("param_groups")
    if not isinstance(groups, list):
        raise RuntimeError(_PREFIX + "swapin_optim_state['param_groups'] to be a list of param-group dicts, got "
                           f"{type(groups).__name__}.")
    if len(optimizer.param_groups) != len(groups):
        raise RuntimeError("swapin_optim_state has a different number of parameter groups than the live optimizer.")
    flat = list(swapin_parameters.values())
    offset, seen, infos = 0, set(), []
    for idx, (group, sg) in enumerate(zip(optimizer.param_groups, groups)):
        if not isinstance(sg, dict):
            raise RuntimeError(_PREFIX + "each optimizer param group to be a dictionary.")
        ids = sg.get("params")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise RuntimeError(_PREFIX + "optimizer.state_dict()-style param_groups[*]['params'] entries keyed by "
                               "packed parameter ids.")
        if len(group["params"]) != len(ids):
            raise RuntimeError(f"swapin_optim_state param group {idx} has a different number of params than the live "
                               "optimizer param group.")
        only_s = [k for k in sg if k not in group]
        only_l = [k for k in group if k not in sg]
        if only_s or only_l:
            raise RuntimeError(_PREFIX + "optimizer.state_dict()-style param group keys to exactly match the live "
                               f"optimizer group keys for group {idx}. Keys only in swap-in: {only_s}. Keys only in "
                               f"live: {only_l}.")
        seen.update(ids)
        if offset + len(ids) > len(flat):
            raise RuntimeError(_PREFIX + "the explicit parameter state to match optimizer.param_groups ordering.")
        infos.append((group, sg, flat[offset:offset + len(ids)]))
        offset += len(ids)
    extra = [k for k in state if k not in seen]
    if extra:
        raise RuntimeError(_PREFIX + "swapin_optim_state['state'] to be keyed only by packed parameter ids from "
                           f"param_groups[*]['params']; got extra keys {extra!r}.")
    return state, infos


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters, swapin_optim_state):
    """Inside the block ``optimizer`` sees ``swapin_parameters`` (in ``param_groups`` order) and the
    state and hyper-parameters of ``swapin_optim_state`` (a ``state_dict()``); in-place edits of those
    tensors (``step()``) persist; the live parameters, state and groups come back on exit."""
    state, infos = _prepare_swap_in(optimizer, swapin_parameters, swapin_optim_state)
    original_state = optimizer.state
    original_opt_state = optimizer._opt_state  # funcgrad's optax state, rebuilt from the swapped-in tensors
    snapshots = [dict(g) for g in optimizer.param_groups]
    try:
        swapped = defaultdict(dict)
        for group, sg, params in infos:
            group["params"] = params
            for k, v in sg.items():
                if k != "params":
                    group[k] = v
            for p, pid in zip(params, sg["params"]):
                swapped[p] = dict(state.get(pid, {}))
        optimizer.state = swapped
        optimizer._opt_state = {}
        yield
    finally:
        for group, snap in zip(optimizer.param_groups, snapshots):
            group.clear()
            group.update(snap)
        optimizer.state = original_state
        optimizer._opt_state = original_opt_state
