"""A variational autoencoder trainer in the shape of pytorch/examples' vae/main.py (fc1 -> fc21/fc22 -> reparameterize
-> fc3 -> fc4, ``F.binary_cross_entropy(reduction='sum')`` + KL divergence, Adam, a test pass under ``no_grad``),
on 8x8 synthetic binary-ish "digits". The encoder's first layer is weight-normalised
(``torch.nn.utils.parametrizations.weight_norm``).

The reparameterisation noise is drawn by numpy so torch and funcgrad see the same samples.
Runs unchanged under ``python vae.py`` (PyTorch) and ``python -m funcgrad vae.py``.
"""
import argparse
import os

import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

D, H, Z = 64, 32, 4


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = weight_norm(nn.Linear(D, H))
        self.fc21 = nn.Linear(H, Z)
        self.fc22 = nn.Linear(H, Z)
        self.fc3 = nn.Linear(Z, H)
        self.fc4 = nn.Linear(H, D)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, D))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, D), reduction="sum")
    # see Appendix B from VAE paper: Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def synthetic_digits(n, seed):
    rng = np.random.default_rng(seed)
    protos = rng.uniform(size=(10, 8, 8)) > 0.6
    labels = rng.integers(0, 10, size=n)
    flips = rng.uniform(size=(n, 8, 8)) < 0.05
    x = np.logical_xor(protos[labels], flips).astype(np.float32) * 0.9 + 0.05
    return torch.from_numpy(x[:, None]), torch.from_numpy(labels)


def main():
    parser = argparse.ArgumentParser(description="VAE Example (synthetic)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=1)
    parser.add_argument("--init", type=str, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    noise = np.random.default_rng(args.seed)
    device = torch.device("cpu")

    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*synthetic_digits(64, 0)),
                                               batch_size=args.batch_size, shuffle=False)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*synthetic_digits(32, 1)),
                                              batch_size=args.batch_size, shuffle=False)
    model = VAE().to(device)
    if args.init:
        if os.path.exists(args.init):
            print(model.load_state_dict(torch.load(args.init)))
        else:
            torch.save(model.state_dict(), args.init)
    print(sorted(model.state_dict().keys()))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    def eps_like(mu):
        return torch.from_numpy(noise.standard_normal(tuple(mu.shape)).astype(np.float32))

    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            mu_shape = (data.size(0), Z)
            recon_batch, mu, logvar = model(data, eps_like(torch.empty(mu_shape)))
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print("Train Epoch: {} [{}/{}]\tLoss: {:.6f}".format(
                    epoch, batch_idx * len(data), len(train_loader.dataset), loss.item() / len(data)))
        print("====> Epoch: {} Average loss: {:.4f}".format(epoch, train_loss / len(train_loader.dataset)))
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, _ in test_loader:
                recon, mu, logvar = model(data, torch.zeros(data.size(0), Z))
                test_loss += loss_function(recon, data, mu, logvar).item()
        print("====> Test set loss: {:.4f}".format(test_loss / len(test_loader.dataset)))
    g = model.fc1.parametrizations.weight.original0
    print("weight_g shape", tuple(g.shape), "grad is None:", g.grad is None)
    torch.nn.utils.parametrize.remove_parametrizations(model.fc1, "weight")
    print(type(model.fc1).__name__, sorted(model.fc1.state_dict().keys()))


if __name__ == "__main__":
    main()
