"""A word-level language model trainer in the shape of pytorch/examples' word_language_model (``RNNModel`` with
Embedding -> LSTM -> Linear decoder, ``batchify``/``get_batch``, ``repackage_hidden`` to detach the hidden state
between batches, ``clip_grad_norm_``, the plain-SGD update ``p.data.add_(p.grad, alpha=-lr)``, perplexity, lr
annealing on validation loss, ``torch.save(model)``-free checkpointing through ``state_dict``). The LSTM projects its
hidden state (``proj_size``) to the embedding size so the decoder can tie its weight to the encoder's
(``--tied``). The corpus is a synthetic one from a tiny grammar.

Runs unchanged under ``python word_lm.py`` (PyTorch) and ``python -m funcgrad word_lm.py``.
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False, proj_size=0):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type == "LSTM":
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout, proj_size=proj_size)
        else:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        out_size = proj_size if proj_size else nhid
        self.decoder = nn.Linear(out_size, ntoken)
        if tie_weights:
            if out_size != ninp:
                raise ValueError("When using the tied flag, nhid (or proj_size) must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers
        self.proj_size = proj_size

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return nn.functional.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.proj_size or self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def make_corpus(n_words, seed):
    rng = np.random.default_rng(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my friend", "the bird"], ["sees", "likes", "eats"], \
        ["the fish", "a ball", "some bread", "the tree"]
    words = []
    while len(words) < n_words:
        words += (subjects[rng.integers(4)] + " " + verbs[rng.integers(3)] + " " + objects[rng.integers(4)]
                  + " <eos>").split()
    return words[:n_words]


class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def main():
    parser = argparse.ArgumentParser(description="PyTorch Word-level LSTM Language Model (synthetic corpus)")
    parser.add_argument("--emsize", type=int, default=8)
    parser.add_argument("--nhid", type=int, default=16)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--bptt", type=int, default=7)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--tied", action="store_true")
    parser.add_argument("--init", type=str, default=None)
    parser.add_argument("--save", type=str, default="model.pt")
    args = parser.parse_args()
    torch.manual_seed(1111)

    dictionary = Dictionary()
    ids = {}
    for split, (n, seed) in {"train": (160, 0), "valid": (60, 1), "test": (60, 2)}.items():
        ids[split] = torch.tensor([dictionary.add_word(w) for w in make_corpus(n, seed)], dtype=torch.int64)
    eval_batch_size = 2
    train_data = batchify(ids["train"], args.batch_size)
    val_data = batchify(ids["valid"], eval_batch_size)
    test_data = batchify(ids["test"], eval_batch_size)
    ntokens = len(dictionary.idx2word)
    model = RNNModel("LSTM", ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied,
                     proj_size=args.emsize)
    if args.init:
        if os.path.exists(args.init):
            model.load_state_dict(torch.load(args.init))
        else:
            torch.save(model.state_dict(), args.init)
    print(model)
    print("tied:", model.decoder.weight is model.encoder.weight, "keys:", len(model.state_dict()))
    criterion = nn.NLLLoss()

    def evaluate(data_source):
        model.eval()
        total_loss = 0.0
        hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i, args.bptt)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    def train(epoch, lr):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i, args.bptt)
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            print("| epoch {:3d} | {:3d} batches | lr {:02.2f} | loss {:5.6f} | ppl {:8.4f}".format(
                epoch, batch, lr, loss.item(), math.exp(loss.item())))

    lr = args.lr
    best_val_loss = None
    for epoch in range(1, args.epochs + 1):
        train(epoch, lr)
        val_loss = evaluate(val_data)
        print("| end of epoch {:3d} | valid loss {:5.6f} | valid ppl {:8.4f}".format(epoch, val_loss,
                                                                                   math.exp(val_loss)))
        if not best_val_loss or val_loss < best_val_loss:
            torch.save(model.state_dict(), args.save)
            best_val_loss = val_loss
        else:
            lr /= 4.0
    model.load_state_dict(torch.load(args.save))
    test_loss = evaluate(test_data)
    print("| End of training | test loss {:5.6f} | test ppl {:8.4f}".format(test_loss, math.exp(test_loss)))


if __name__ == "__main__":
    main()
