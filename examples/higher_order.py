"""Higher-order gradients with ``create_graph=True``: a gradient penalty and a MAML-style inner step.

Every op's gradient is ``jax.vjp`` of its forward, itself an op, so any order works.

    python examples/higher_order.py [--steps 200]
"""
from __future__ import annotations

import argparse

import funcgrad as torch


def gradient_penalty(critic, real, fake):
    """WGAN-GP: (||d critic / d x||_2 - 1)^2 at points between real and fake samples."""
    alpha = torch.rand(real.shape[0], 1)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(x).sum()
    (g,) = torch.autograd.grad(score, x, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


def maml_step(model, x_support, y_support, x_query, y_query, inner_lr=0.1):
    """One meta-gradient: adapt on the support set with a differentiable SGD step, score on the query set."""
    params = dict(model.named_parameters())
    loss = torch.nn.functional.mse_loss(torch.func.functional_call(model, params, (x_support,)), y_support)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    adapted = {k: p - inner_lr * g for (k, p), g in zip(params.items(), grads)}
    return torch.nn.functional.mse_loss(torch.func.functional_call(model, adapted, (x_query,)), y_query)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    torch.manual_seed(0)

    critic = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    real, fake = torch.randn(64, 2) + 2, torch.randn(64, 2)
    for _ in range(args.steps):
        opt.zero_grad()
        gp = gradient_penalty(critic, real, fake)
        loss = critic(fake).mean() - critic(real).mean() + 10 * gp
        loss.backward()
        opt.step()
    print(f"gradient penalty after {args.steps} steps: {gp.item():.4f} (critic loss {loss.item():.4f})")

    model = torch.nn.Sequential(torch.nn.Linear(1, 40), torch.nn.Tanh(), torch.nn.Linear(40, 1))
    meta = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(args.steps):
        amp, phase = 1 + torch.rand(1).item(), torch.rand(1).item() * 3
        xs, xq = torch.rand(10, 1) * 10 - 5, torch.rand(10, 1) * 10 - 5
        meta.zero_grad()
        q = maml_step(model, xs, amp * (xs + phase).sin(), xq, amp * (xq + phase).sin())
        q.backward()
        meta.step()
        losses.append(q.item())
    k = max(1, args.steps // 10)
    print(f"MAML query loss: first {sum(losses[:k]) / k:.3f} -> last {sum(losses[-k:]) / k:.3f}")
    return gp, losses


if __name__ == "__main__":
    main()
