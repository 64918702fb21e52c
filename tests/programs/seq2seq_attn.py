"""A sequence-to-sequence trainer in the shape of the PyTorch "NLP From Scratch: Translation with a Sequence to
Sequence Network and Attention" tutorial (``EncoderRNN`` with a GRU, ``BahdanauAttention``, ``AttnDecoderRNN`` decoding
step by step with teacher forcing, ``torch.bmm`` attention, NLLLoss over ``log_softmax``, two Adam optimizers). The
encoder reads padded batches through ``pack_padded_sequence``/``pad_packed_sequence``, the decoder's output layer is
weight-normalised the old way (``torch.nn.utils.weight_norm``), and gradients are clipped by value. The task is
reversing synthetic digit strings.

Runs unchanged under ``python seq2seq_attn.py`` (PyTorch) and ``python -m funcgrad seq2seq_attn.py``.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SOS_token, EOS_token, PAD = 0, 1, 2
MAX_LENGTH = 7


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.0):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size, padding_idx=PAD)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input, lengths):
        embedded = self.dropout(self.embedding(input))
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        output, hidden = self.gru(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=input.size(1))
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys, mask):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.0):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.utils.weight_norm(nn.Linear(hidden_size, output_size))
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, mask, target_tensor):
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
        decoder_hidden = encoder_hidden
        decoder_outputs, attentions = [], []
        for i in range(target_tensor.size(1)):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs, mask)
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)
            decoder_input = target_tensor[:, i].unsqueeze(1)  # Teacher forcing
        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
        attentions = torch.cat(attentions, dim=1)
        return decoder_outputs, decoder_hidden, attentions

    def forward_step(self, input, hidden, encoder_outputs, mask):
        embedded = self.dropout(self.embedding(input))
        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs, mask)
        input_gru = torch.cat((embedded, context), dim=2)
        output, hidden = self.gru(input_gru, hidden)
        output = self.out(output)
        return output, hidden, attn_weights


def make_pairs(n, seed):
    rng = np.random.default_rng(seed)
    src = np.full((n, MAX_LENGTH), PAD, np.int64)
    tgt = np.full((n, MAX_LENGTH), PAD, np.int64)
    lengths = rng.integers(2, MAX_LENGTH, size=n)
    for i, L in enumerate(lengths):
        digits = rng.integers(3, 13, size=L)
        src[i, :L] = digits
        src[i, L] = EOS_token
        tgt[i, :L] = digits[::-1]
        tgt[i, L] = EOS_token
    return torch.from_numpy(src), torch.from_numpy(tgt), torch.from_numpy(lengths + 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=12)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--init", type=str, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    vocab = 13
    encoder = EncoderRNN(vocab, args.hidden)
    decoder = AttnDecoderRNN(args.hidden, vocab)
    if args.init:
        if os.path.exists(args.init):
            ckpt = torch.load(args.init)
            encoder.load_state_dict(ckpt["encoder"])
            print(decoder.load_state_dict(ckpt["decoder"], strict=False))
        else:
            torch.save({"encoder": encoder.state_dict(), "decoder": decoder.state_dict()}, args.init)
    print(decoder)
    print(sorted(decoder.out.state_dict().keys()))
    src, tgt, lengths = make_pairs(32, 0)
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=0.01)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=0.01)
    criterion = nn.NLLLoss(ignore_index=PAD)
    for step in range(args.steps):
        sl = slice((step * 8) % 32, (step * 8) % 32 + 8)
        input_tensor, target_tensor, lens = src[sl], tgt[sl], lengths[sl]
        mask = input_tensor != PAD
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        encoder_outputs, encoder_hidden = encoder(input_tensor, lens)
        decoder_outputs, _, attn = decoder(encoder_outputs, encoder_hidden, mask, target_tensor)
        loss = criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)), target_tensor.view(-1))
        loss.backward()
        nn.utils.clip_grad_value_(list(encoder.parameters()) + list(decoder.parameters()), 0.5)
        encoder_optimizer.step()
        decoder_optimizer.step()
        print("step %d loss: %.6f attention mass on padding %.6f" % (step, loss.item(),
                                                                   attn.masked_select(~mask.unsqueeze(1)).sum().item()))
    nn.utils.remove_weight_norm(decoder.out)
    print("after remove_weight_norm:", sorted(decoder.out.state_dict().keys()))
    with torch.no_grad():
        enc_out, enc_hidden = encoder(src[:4], lengths[:4])
        out, _, _ = decoder(enc_out, enc_hidden, src[:4] != PAD, tgt[:4])
        print("eval loss: %.6f" % criterion(out.view(-1, vocab), tgt[:4].reshape(-1)).item())
        print("greedy:", out.argmax(-1)[0].tolist(), "target:", tgt[0].tolist())


if __name__ == "__main__":
    main()
