"""A character-level language model trainer in the style of makemore's MLP (Bengio et al. 2003):
Embedding -> Linear -> tanh -> Linear over a context of previous characters, a DataLoader over a
TensorDataset of (context, next char) pairs, AdamW, checkpoints with torch.save and --resume.

Runs unchanged under ``python char_mlp.py`` (PyTorch) and ``python -m funcgrad char_mlp.py``.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

TEXT = ("the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs. "
        "how vexingly quick daft zebras jump. sphinx of black quartz, judge my vow. ") * 4


class CharDataset(TensorDataset):
    def __init__(self, text, block_size, stoi):
        ids = [stoi[c] for c in text]
        xs = [ids[i:i + block_size] for i in range(len(ids) - block_size)]
        ys = [ids[i + block_size] for i in range(len(ids) - block_size)]
        super().__init__(torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long))


class MLP(nn.Module):
    def __init__(self, vocab_size, block_size, n_embd=12, n_hidden=48):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(block_size * n_embd, n_hidden),
            nn.Tanh(),
            nn.Linear(n_hidden, vocab_size),
        )

    def forward(self, idx, targets=None):
        emb = self.wte(idx)  # (B, T, C)
        logits = self.mlp(emb.view(emb.size(0), -1))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits, targets)
        return logits, loss


@torch.no_grad()
def generate(model, idx, max_new_tokens):
    model.eval()
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.block_size:])
        probs = F.softmax(logits, dim=-1)
        idx_next = torch.argmax(probs, dim=-1, keepdim=True)  # greedy: the same text on any backend
        idx = torch.cat((idx, idx_next), dim=1)
    model.train()
    return idx


def main():
    parser = argparse.ArgumentParser(description="char-level MLP language model")
    parser.add_argument("--block-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=3407)
    parser.add_argument("--work-dir", type=str, default="out")
    parser.add_argument("--save-every", type=int, default=15)
    parser.add_argument("--resume", type=str, default=None, help="checkpoint to resume from")
    parser.add_argument("--init", type=str, default=None, help="initial weights: loaded if present, else written")
    args = parser.parse_args()
    print(vars(args))

    torch.manual_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    chars = sorted(set(TEXT))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for ch, i in stoi.items()}
    dataset = CharDataset(TEXT, args.block_size, stoi)
    print(f"dataset: {len(dataset)} examples, vocab {len(chars)}")

    model = MLP(len(chars), args.block_size)
    print(f"model #params: {sum(p.numel() for p in model.parameters())}")
    if args.init:
        if os.path.exists(args.init):
            model.load_state_dict(torch.load(args.init))
        else:
            torch.save(model.state_dict(), args.init)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                                  betas=(0.9, 0.99), eps=1e-8)
    step = 0
    if args.resume:
        ckpt = torch.load(args.resume)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        print(f"resumed from {args.resume} at step {step} (loss {ckpt['loss']:.6f})")

    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False, drop_last=True)
    skip = step % len(loader)  # a resumed run continues mid-epoch where the checkpoint was taken
    while step < args.max_steps:
        for X, Y in loader:
            if skip:
                skip -= 1
                continue
            logits, loss = model(X, Y)
            model.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            print(f"step {step} | loss {loss.item():.6f}")
            if step % args.save_every == 0:
                path = os.path.join(args.work_dir, f"ckpt_{step}.pt")
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                            "loss": loss.item(), "args": vars(args)}, path)
                print(f"saved {path}")
            if step >= args.max_steps:
                break

    ctx = torch.tensor([[stoi[c] for c in "the "]], dtype=torch.long)
    out = generate(model, ctx, 40)[0].tolist()
    print("sample:", repr("".join(itos[i] for i in out)))


if __name__ == "__main__":
    main()
