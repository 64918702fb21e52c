"""A nanoGPT-style ``train.py`` with DistributedDataParallel: plain PyTorch code, launched by
funcgrad's torchrun on several processes (here CPU processes talking through JAX's gloo collectives):

    python -m funcgrad.distributed.run --nproc-per-node 2 examples/ddp_gpt.py --steps 30

Without the launcher it trains in one process. As in nanoGPT: each rank draws its own batches
(seed offset = rank), gradient accumulation skips the all-reduce except on the last micro-step
(``require_backward_grad_sync``), rank 0 logs and checkpoints. ``--compile`` compiles the step.
At the end every rank reports a checksum of its parameters: DDP keeps the replicas identical.
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributed import destroy_process_group, init_process_group
from torch.nn.parallel import DistributedDataParallel as DDP

TEXT = ("first citizen: before we proceed any further, hear me speak. all: speak, speak. first citizen: you are all "
        "resolved rather to die than to famish? all: resolved. resolved. first citizen: first, you know caius marcius "
        "is chief enemy to the people. all: we know't, we know't. first citizen: let us kill him, and we'll have corn "
        "at our own price. is't a verdict? all: no more talking on't; let it be done: away, away! ") * 4


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer=2, n_head=2, n_embd=32):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT

    def forward(self, idx, targets):
        pos = torch.arange(idx.size(1))
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--grad-accum", type=int, default=2, help="micro-steps per step, over all ranks")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=32)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--out-dir", type=str, default=None, help="rank 0 saves ckpt.pt there")
    args = ap.parse_args(argv)

    ddp = int(os.environ.get("RANK", -1)) != -1
    if ddp:
        init_process_group(backend="gloo")
        ddp_rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        master_process = ddp_rank == 0
        seed_offset = ddp_rank
        assert args.grad_accum % world_size == 0
        grad_accum = args.grad_accum // world_size
    else:
        ddp_rank, world_size, master_process, seed_offset, grad_accum = 0, 1, True, 0, args.grad_accum

    chars = sorted(set(TEXT))
    data = torch.tensor([chars.index(c) for c in TEXT], dtype=torch.long)
    gen = torch.Generator().manual_seed(1337 + seed_offset)

    def get_batch():
        ix = torch.randint(len(data) - args.block_size - 1, (args.batch_size,), generator=gen)
        x = torch.stack([data[i:i + args.block_size] for i in ix.tolist()])
        y = torch.stack([data[i + 1:i + 1 + args.block_size] for i in ix.tolist()])
        return x, y

    torch.manual_seed(1337)  # same initialisation everywhere (DDP broadcasts rank 0's anyway)
    model = GPT(len(chars), args.block_size, n_layer=args.n_layer, n_embd=args.n_embd)
    if ddp:
        model = DDP(model)
    raw_model = model.module if ddp else model
    optimizer = torch.optim.AdamW(raw_model.parameters(), lr=args.lr, weight_decay=0.1)

    def micro_step(x, y, sync):
        if ddp:  # all-reduce only on the last micro-step, as nanoGPT does
            model.require_backward_grad_sync = sync
        loss = model(x, y) / grad_accum
        loss.backward()
        return loss.detach()

    def step(batches):
        total = 0.0
        for i, (x, y) in enumerate(batches):
            total = total + micro_step(x, y, i == len(batches) - 1)
        torch.nn.utils.clip_grad_norm_(raw_model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return total

    if args.compile:
        step = torch.compile(step)
    losses = []
    for it in range(args.steps):
        loss = step([get_batch() for _ in range(grad_accum)]).item()
        losses.append(loss)
        if master_process and (it % 10 == 0 or it == args.steps - 1):
            print(f"iter {it}: loss {loss:.4f}", flush=True)
    checksum = sum(p.detach().double().abs().sum().item() * (i + 1) for i, p in enumerate(raw_model.parameters()))
    print(f"rank {ddp_rank}/{world_size} parameter checksum {checksum:.10f}", flush=True)
    if master_process and args.out_dir:
        torch.save({"model": raw_model.state_dict(), "iter": args.steps}, os.path.join(args.out_dir, "ckpt.pt"))
    if ddp:
        destroy_process_group()
    return losses


if __name__ == "__main__":
    main()
