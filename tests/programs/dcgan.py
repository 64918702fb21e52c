"""A DCGAN trainer in the shape of pytorch/examples' dcgan/main.py (Generator of ConvTranspose2d + BatchNorm2d,
Discriminator of Conv2d + LeakyReLU, ``weights_init`` applied with ``model.apply``, BCELoss, two Adam optimizers,
``fake.detach()`` for the discriminator step), on 16x16 synthetic "images" of soft blobs. The discriminator's
convolutions are spectral-normalised (``torch.nn.utils.parametrizations.spectral_norm``, as in SN-GAN code).

Noise comes from numpy so torch and funcgrad draw the same latents.
Runs unchanged under ``python dcgan.py`` (PyTorch) and ``python -m funcgrad dcgan.py``.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.nn.utils.parametrizations import spectral_norm

nz, ngf, ndf, nc = 8, 8, 8, 1


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 4 x 4
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (nc) x 16 x 16
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            spectral_norm(nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)),
            nn.LeakyReLU(0.2, inplace=True),
            spectral_norm(nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def synthetic_images(n, rng):
    yy, xx = np.mgrid[0:16, 0:16]
    cy, cx = rng.uniform(4, 12, size=(2, n, 1, 1))
    img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0) * 2 - 1
    return torch.from_numpy(img[:, None].astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batchSize", type=int, default=8)
    parser.add_argument("--niter", type=int, default=2)
    parser.add_argument("--iters-per-epoch", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--init", type=str, default=None, help="initial weights: loaded if present, else written")
    parser.add_argument("--outf", default=".")
    opt = parser.parse_args()

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    device = torch.device("cpu")
    netG = Generator().to(device)
    netG.apply(weights_init)
    netD = Discriminator().to(device)
    netD.apply(weights_init)
    print(netD)
    if opt.init:
        if os.path.exists(opt.init):
            ckpt = torch.load(opt.init)
            netG.load_state_dict(ckpt["G"])
            netD.load_state_dict(ckpt["D"])
        else:
            torch.save({"G": netG.state_dict(), "D": netD.state_dict()}, opt.init)

    criterion = nn.BCELoss()
    fixed_noise = torch.from_numpy(rng.standard_normal((opt.batchSize, nz, 1, 1)).astype(np.float32))
    real_label, fake_label = 1, 0
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    for epoch in range(opt.niter):
        for i in range(opt.iters_per_epoch):
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = synthetic_images(opt.batchSize, rng).to(device)
            batch_size = real_cpu.size(0)
            label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            noise = torch.from_numpy(rng.standard_normal((batch_size, nz, 1, 1)).astype(np.float32))
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            # (2) Update G network: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            print("[%d/%d][%d/%d] D loss: %.6f G loss: %.6f D(x): %.4f D(G(z)): %.4f / %.4f"
                  % (epoch, opt.niter, i, opt.iters_per_epoch, errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        with torch.no_grad():
            fake = netG(fixed_noise)
        print("fixed-noise sample mean loss: %.6f" % fake.mean().item())
        torch.save(netG.state_dict(), "%s/netG_epoch_%d.pth" % (opt.outf, epoch))
        torch.save(netD.state_dict(), "%s/netD_epoch_%d.pth" % (opt.outf, epoch))
    sigma = netD.main[0].parametrizations.weight.original.flatten(1).norm().item()
    print("spectral u norm loss: %.6f" % netD.main[0].parametrizations.weight[0]._u.norm().item())
    print("D conv0 original norm: %.4f" % sigma)


if __name__ == "__main__":
    main()
