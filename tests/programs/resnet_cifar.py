"""A CIFAR-style ResNet trainer in the shape of the well-known pytorch-cifar / torchvision ResNet code (BasicBlock
with a 1x1-conv shortcut, ``nn.Sequential`` stages built by ``_make_layer``, ``AdaptiveAvgPool2d`` + ``torch.flatten``,
``model.apply(init_fn)`` with ``nn.init.kaiming_normal_``, SGD with momentum/nesterov/weight decay, CosineAnnealingLR,
label-smoothed CrossEntropyLoss, random flips), on 3x16x16 synthetic CIFAR-shaped images. Evaluation also runs the
model with every conv+BN pair fused (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and checks the features a forward
hook captured.

Runs unchanged under ``python resnet_cifar.py`` (PyTorch) and ``python -m funcgrad resnet_cifar.py``.
"""
import argparse
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.utils.fusion import fuse_conv_bn_eval


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10, width=8):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(block, width, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, width * 2, num_blocks[1], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 2 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.avgpool(out)
        out = torch.flatten(out, 1)
        return self.fc(out)


def init_fn(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.constant_(m.weight, 1)
        nn.init.constant_(m.bias, 0)


def fuse_model(model):
    """Fold each BatchNorm that follows a conv into it (inference only)."""
    model = copy.deepcopy(model)
    model.conv1 = fuse_conv_bn_eval(model.conv1, model.bn1)
    model.bn1 = nn.Identity()
    for stage in (model.layer1, model.layer2):
        for blk in stage:
            blk.conv1, blk.bn1 = fuse_conv_bn_eval(blk.conv1, blk.bn1), nn.Identity()
            blk.conv2, blk.bn2 = fuse_conv_bn_eval(blk.conv2, blk.bn2), nn.Identity()
            if len(blk.shortcut) == 2:
                blk.shortcut = nn.Sequential(fuse_conv_bn_eval(blk.shortcut[0], blk.shortcut[1]))
    return model


def synthetic_cifar(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    colours = rng.uniform(-1, 1, size=(10, 3, 1, 1))
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    x = colours[labels] * (np.sin((labels[:, None, None, None] + 1) * 3 * xx) + yy) \
        + 0.3 * rng.standard_normal((n, 3, 16, 16))
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser(description="PyTorch CIFAR10 Training (synthetic)")
    parser.add_argument("--lr", default=0.05, type=float)
    parser.add_argument("--epochs", default=2, type=int)
    parser.add_argument("--init", type=str, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    xtr, ytr = synthetic_cifar(48, 0)
    xte, yte = synthetic_cifar(32, 1)
    net = ResNet(BasicBlock, [2, 1])
    net.apply(init_fn)
    if args.init:
        if os.path.exists(args.init):
            net.load_state_dict(torch.load(args.init))
        else:
            torch.save(net.state_dict(), args.init)
    print(net.layer2)
    print("params:", sum(p.numel() for p in net.parameters() if p.requires_grad))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    feats = {}
    net.avgpool.register_forward_hook(lambda mod, inp, out: feats.__setitem__("pool", out.detach()))

    for epoch in range(args.epochs):
        net.train()
        for i in range(0, len(xtr), 16):
            inputs, targets = xtr[i:i + 16], ytr[i:i + 16]
            flip = torch.from_numpy(rng.uniform(size=len(inputs)) < 0.5)
            inputs = torch.where(flip.view(-1, 1, 1, 1), torch.flip(inputs, dims=[3]), inputs)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            _, predicted = outputs.max(1)
            print("epoch %d batch %d | Loss: %.6f | Acc: %d/%d | lr %.5f"
                  % (epoch, i // 16, loss.item(), predicted.eq(targets).sum().item(), targets.size(0),
                     scheduler.get_last_lr()[0]))
        scheduler.step()
        net.eval()
        with torch.no_grad():
            outputs = net(xte)
            test_loss = criterion(outputs, yte)
            fused = fuse_model(net)
            fused_loss = criterion(fused(xte), yte)
        print("test loss: %.6f fused loss: %.6f pooled feats %s" % (test_loss.item(), fused_loss.item(),
                                                                   tuple(feats["pool"].shape)))
    print("bn running_var loss: %.6f" % net.layer1[0].bn1.running_var.mean().item())
    print("num_batches_tracked", net.bn1.num_batches_tracked.item())


if __name__ == "__main__":
    main()
