"""Model and data shared by the distributed workers and the single-process reference (torch or funcgrad)."""
import numpy as np


def make_model(torch):
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))


def init_state(seed=0):
    rng = np.random.default_rng(seed)
    return {"0.weight": (rng.standard_normal((16, 8)) * 0.3).astype(np.float32),
            "0.bias": (rng.standard_normal(16) * 0.1).astype(np.float32),
            "2.weight": (rng.standard_normal((4, 16)) * 0.3).astype(np.float32),
            "2.bias": (rng.standard_normal(4) * 0.1).astype(np.float32)}


def data(n=16):
    rng = np.random.default_rng(42)
    return rng.standard_normal((n, 8)).astype(np.float32), rng.standard_normal((n, 4)).astype(np.float32)


def reference(torch, steps):
    """Single-process training on the whole batch: losses and final parameters."""
    model = make_model(torch)
    model.load_state_dict({k: torch.tensor(v) for k, v in init_state(0).items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = data()
    x, y = torch.tensor(x), torch.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.detach().numpy() for k, v in model.state_dict().items()}


def train_on_rank(torch, dist, model, steps, mode):
    """SGD (momentum) of ``model`` (a DDP or fully_shard wrapper) on this rank's block of the global batch,
    eagerly or with the step compiled by torch.compile (``mode`` "compiled"): the loss averaged over the
    ranks per step, the optimizer, the step function and the rank's batch."""
    r, w = dist.get_rank(), dist.get_world_size()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = data()
    n = x.shape[0] // w
    xb, yb = torch.tensor(x[r * n:(r + 1) * n]), torch.tensor(y[r * n:(r + 1) * n])

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
        return loss.detach()

    if mode == "compiled":
        step = torch.compile(step, fullgraph=True)
    losses = []
    for _ in range(steps):
        loss = step()
        dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        losses.append(loss.item())
    return losses, opt, step, (xb, yb)
