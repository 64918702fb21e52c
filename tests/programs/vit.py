"""A small Vision Transformer trainer in the style of the common minimal ViT implementations (patch embedding by a
strided Conv2d, a learnable ``nn.Parameter`` class token and position embedding initialised with
``nn.init.trunc_normal_``, ``nn.TransformerEncoder`` of pre-norm GELU layers, ``model.apply(_init_weights)``,
AdamW with weight-decay parameter groups, gradient clipping, a forward pre-hook and a ``register_full_backward_hook``
recording gradient norms), on 3x16x16 synthetic images.

Runs unchanged under ``python vit.py`` (PyTorch) and ``python -m funcgrad vit.py``.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchEmbed(nn.Module):
    def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=16):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)  # B, D, H/p, W/p
        return x.flatten(2).transpose(1, 2)  # B, N, D


class ViT(nn.Module):
    def __init__(self, num_classes=5, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0):
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, dim_feedforward=int(embed_dim * mlp_ratio),
                                           dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def forward(self, x):
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        x = self.encoder(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def synthetic_images(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, size=n)
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    freq = (labels + 1)[:, None, None, None]
    x = np.cos(freq * 4 * xx) * np.sin(freq * 2 * yy) + 0.2 * rng.standard_normal((n, 3, 16, 16))
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--init", type=str, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = ViT()
    if args.init:
        if os.path.exists(args.init):
            model.load_state_dict(torch.load(args.init))
        else:
            torch.save(model.state_dict(), args.init)
    print(model.encoder.layers[0])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "token" not in n and "pos" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "token" not in n and "pos" not in n)]
    print("decay/no-decay tensors:", len(decay), len(no_decay))
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=3e-3)
    seen, grads = [], []
    model.patch_embed.register_forward_pre_hook(lambda mod, args: seen.append(tuple(args[0].shape)))
    model.head.register_full_backward_hook(lambda mod, gin, gout: grads.append(gout[0].norm().item()))
    x, y = synthetic_images(32, 0)
    for step in range(args.steps):
        xb, yb = x[(step * 8) % 32:(step * 8) % 32 + 8], y[(step * 8) % 32:(step * 8) % 32 + 8]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        print("step %d loss: %.6f grad norm %.5f head grad-out norm %.5f" % (step, loss.item(), norm.item(),
                                                                            grads[-1]))
    model.eval()
    with torch.no_grad():
        print("eval loss: %.6f" % F.cross_entropy(model(x), y).item())
    print("inputs seen by patch_embed:", seen[:2], len(seen))


if __name__ == "__main__":
    main()
