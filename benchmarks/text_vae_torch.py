"""The PyTorch peer of the suite's text VAE, for speed comparisons only (never imported by
``vae_tfp``; needs the ``bench`` extra: ``pip install -e '.[bench]'``).

The model is the suite's ``lstm`` decoder with its LSTM encoder (Li et al. 2019's PTB sizes
by default), written here for PyTorch eager in the way the text-VAE papers' code runs it:

- encoder: word embeddings -> one-layer LSTM -> the output at the sentence's ``EOS`` ->
  a linear layer giving (mu, log sigma^2) of q(z|x);
- decoder: embeddings of ``BOS`` and the words, dropout, z joined to every input; the LSTM
  starts from (tanh(A z), B z) (one linear layer split in two); dropout on its outputs;
  a linear layer to the vocabulary, ``PAD`` and ``BOS`` never predicted (logit -1e9);
- loss: the negative ELBO per sentence, -sum_t log p(x_t | x_<t, z) + KL(q(z|x) || N(0, I))
  (one reparameterized sample, analytic KL), averaged over the batch; positions after the
  ``EOS`` count nothing (``ignore_index`` = ``PAD``);
- update: SGD with the gradients' global norm clipped at 5 (He et al. 2019; Li et al. 2019).

Initialisation follows the suite's ``keras`` parameterization (uniform(-0.05, 0.05)
embeddings, Glorot uniform kernels, orthogonal recurrent kernels, zero biases but 1 for the
LSTM forget gate), which changes nothing in the timings but keeps the two models the same.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # vae_tfp.data.store's convention


def _keras_like_init(module: nn.Module) -> None:
    for name, weight in module.named_parameters():
        if "weight_hh" in name:  # [4H, H]: the transpose of Keras's orthogonal [H, 4H]
            keras_shaped = torch.empty(weight.shape[1], weight.shape[0])
            weight.data.copy_(nn.init.orthogonal_(keras_shaped).T)
        elif "weight_ih" in name or (name.endswith("weight") and weight.dim() == 2):
            nn.init.xavier_uniform_(weight)
        elif "bias" in name:
            nn.init.zeros_(weight)
            if "bias_ih" in name:  # PyTorch gate order i, f, g, o: forget bias 1
                hidden = weight.shape[0] // 4
                weight.data[hidden : 2 * hidden] = 1.0


class TextVAE(nn.Module):
    """LSTM encoder and decoder over token ids (see the module docstring).

    Args:
        vocab_size: Number of token ids.
        embedding_size: Width of the word embeddings (encoder and decoder).
        hidden_size: LSTM units (encoder and decoder).
        latent_dim: Dimension of z.
        dropout: Dropout on the decoder's input embeddings and LSTM outputs.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = 256,
        hidden_size: int = 256,
        latent_dim: int = 32,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.encoder_embedding = nn.Embedding(vocab_size, embedding_size)
        self.encoder_lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.encoder_head = nn.Linear(hidden_size, 2 * latent_dim)
        self.decoder_embedding = nn.Embedding(vocab_size, embedding_size)
        self.initial_state = nn.Linear(latent_dim, 2 * hidden_size)
        self.decoder_lstm = nn.LSTM(embedding_size + latent_dim, hidden_size, batch_first=True)
        self.decoder_head = nn.Linear(hidden_size, vocab_size)
        self.dropout = nn.Dropout(dropout)
        blocked = torch.zeros(vocab_size)
        blocked[[PAD_ID, BOS_ID]] = -1e9
        self.register_buffer("blocked", blocked)
        for embedding in (self.encoder_embedding, self.decoder_embedding):
            nn.init.uniform_(embedding.weight, -0.05, 0.05)
        for part in (self.encoder_lstm, self.encoder_head, self.initial_state):
            _keras_like_init(part)
        for part in (self.decoder_lstm, self.decoder_head):
            _keras_like_init(part)

    def negative_elbo(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Batch mean of -ELBO for token ids x [B, T] (words, ``EOS``, ``PAD``) whose
        sentences have ``lengths`` [B] (words plus ``EOS``)."""
        batch, steps = x.shape
        states, _ = self.encoder_lstm(self.encoder_embedding(x))
        last = states[torch.arange(batch), lengths - 1]
        loc, log_var = self.encoder_head(last).chunk(2, dim=-1)
        z = loc + torch.exp(0.5 * log_var) * torch.randn_like(loc)
        inputs = torch.cat([torch.full_like(x[:, :1], BOS_ID), x[:, :-1]], dim=1)
        embedded = self.dropout(self.decoder_embedding(inputs))
        embedded = torch.cat([embedded, z[:, None].expand(-1, steps, -1)], dim=-1)
        h0, c0 = self.initial_state(z).chunk(2, dim=-1)
        out, _ = self.decoder_lstm(embedded, (torch.tanh(h0)[None], c0[None].contiguous()))
        logits = self.decoder_head(self.dropout(out)) + self.blocked
        nll = nn.functional.cross_entropy(
            logits.reshape(batch * steps, -1), x.reshape(-1), ignore_index=PAD_ID,
            reduction="sum",
        )  # fmt: skip
        kl = 0.5 * (loc.pow(2) + log_var.exp() - 1.0 - log_var).sum()
        return (nll + kl) / batch


def peer_step(vocab_size: int, threads: int, learning_rate: float = 1.0, seed: int = 0):
    """A function training :class:`TextVAE` on one batch per call (SGD, clip 5).

    Returns:
        ``step(x) -> loss`` for int token ids x [B, T] (NumPy), on ``threads`` threads.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = TextVAE(vocab_size)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    def step(x: np.ndarray) -> float:
        tokens = torch.from_numpy(np.asarray(x, dtype=np.int64))
        lengths = (tokens != PAD_ID).sum(dim=1)  # a row is words, EOS, then PAD
        loss = model.negative_elbo(tokens, lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        return float(loss.detach())

    return step
