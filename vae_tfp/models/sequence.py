"""Token-sequence models: an LSTM encoder q(z|x) and an LSTM decoder p(x|z).

Sequences follow the token convention of :mod:`vae_tfp.data.store` (words, one ``EOS``,
then ``PAD``; see :mod:`vae_tfp.models.tokens`): nothing a row holds after its ``EOS``
reaches a log-probability or the encoder's output.

The decoder is the LSTM language model of the text VAE (Bowman et al. 2016, Sec. 3):

    log p(x | z) = sum_{t <= EOS} log Categorical(x_t | softmax(W h_t + b)),
    h_t = LSTM(h_{t-1}, [embed(x_{t-1}), z]),   x_0 = BOS,   (h_0, c_0) = (tanh(A z), B z),

so z sets the initial state and is concatenated to every input step (as in He et al. 2019's
text VAE; the ``he2019`` parameterization has their layers: no bias b, one matrix for the
state, c_0 = W z and h_0 = tanh(c_0), and their initialisation; see
:mod:`vae_tfp.models.text_layers`). With ``skip=True`` z also enters the output layer,
W h_t + U z (the skip-VAE of Dieng et al. 2019, eq. 8, for a one-layer LSTM). The
log-likelihood is the sum of ``tfd.Categorical`` log-probabilities over the sentence's
positions (the positions after the first ``EOS`` count nothing:
:func:`vae_tfp.models.tokens.token_log_prob` on :meth:`logits`);
``PAD`` and ``BOS`` are never predicted (their logits are fixed at -1e9), so p(x|z) is a
distribution over words and ``EOS``; with ``softmax_over_all_tokens`` the softmax runs over
every id, as in He et al.'s and Li et al.'s code.

Both LSTMs run :func:`vae_tfp.models.recurrent.lstm_states` on their ``tf_keras`` layers'
weights. Outside XLA a batch is cut to its longest sentence and the decoder's softmax runs at
the sentences' positions only; dropout noise is drawn before the cut: no number changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from vae_tfp.data.store import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from vae_tfp.models.autoregressive import BoundDistribution, stateless_seed
from vae_tfp.models.encoder import gaussian_posterior
from vae_tfp.models.recurrent import (
    build_layer,
    in_xla_context,
    lstm_states,
    time_major_dropout_mask,
)
from vae_tfp.models.text_layers import text_parameterization
from vae_tfp.models.tokens import (
    blocked_logits,
    categorical_log_prob,
    check_tokens,
    cut_to_longest,
    flatten_pair,
    valid_positions,
)

tfd = tfp.distributions


def drop_words(inputs: tf.Tensor, rate: float, seed: tf.Tensor) -> tf.Tensor:
    """Word dropout (Bowman et al. 2016, Sec. 3.2): each decoder input token except the
    start token is replaced by ``UNK`` independently with probability ``rate``.

    Args:
        inputs: Decoder input ids [B, T] (start token, then the words shifted by one).
        rate: Replacement probability in [0, 1].
        seed: A stateless seed, int32 [2].
    """
    keep = tf.random.stateless_uniform(tf.shape(inputs), seed) >= rate
    keep = tf.logical_or(keep, tf.equal(inputs, BOS_ID))
    return tf.where(keep, inputs, UNK_ID)


class SequenceEncoder(tf.Module):
    """LSTM encoder q(z|x) = N(mu(h_x), diag(exp(log_var(h_x)))) for token sequences.

    h_x is the LSTM state at the sentence's ``EOS``: what the ``tf_keras`` LSTM returns when
    it reads the embedded tokens with a mask that holds the state after the ``EOS`` (the
    state at a position depends on no later one). With ``reads_start_token`` it reads
    ``BOS`` first. It has the interface of
    :class:`vae_tfp.models.encoder.GaussianEncoder`.

    Args:
        event_shape: [T], the padded sequence length.
        latent_dim: Dimension of z.
        vocab_size: Number of token ids.
        embedding_size: Width of the token embeddings.
        hidden_size: LSTM units.
        parameterization: A style of :data:`vae_tfp.models.text_layers.TEXT_PARAMETERIZATIONS`
            (``"he2019"``: He et al.'s initialisation and a bias-free output layer).
        reads_start_token: Read ``BOS`` before the words, as He et al.'s and Li et al.'s
            encoders do (their batches hold ``<s>``, the words and ``</s>``, and the encoder
            reads all of them; jxhe/vae-lagging-encoder cdc4eb9, ``data/text_data.py`` and
            ``modules/encoders/enc_lstm.py``).
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        latent_dim: int,
        vocab_size: int | None,
        embedding_size: int = 32,
        hidden_size: int = 64,
        parameterization: str = "keras",
        reads_start_token: bool = False,
    ):
        super().__init__(name="sequence_encoder")
        check_tokens("the sequence encoder", event_shape, "tokens", vocab_size)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.latent_dim = int(latent_dim)
        self.reads_start_token = bool(reads_start_token)
        style = text_parameterization(parameterization)
        self.embedding = style.embedding(vocab_size, embedding_size)
        self.lstm = style.lstm(hidden_size)  # the weights (and the reference)
        self.head = style.projection(2 * self.latent_dim)
        # The weights now, in the order the layers read their inputs.
        build_layer(self.embedding, (None, None))
        build_layer(self.lstm, (None, None, int(embedding_size)))
        build_layer(self.head, (None, int(hidden_size)))

    def params(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (loc, log_var), each [batch, latent_dim]."""
        x, lengths = cut_to_longest(tf.cast(x, tf.int32))
        batch = tf.shape(x)[0]
        if self.reads_start_token:
            x = tf.concat([tf.fill([batch, 1], BOS_ID), x], axis=1)
            lengths += 1
        zeros = tf.zeros([batch, self.lstm.cell.units])
        states = lstm_states(self.lstm.cell, self.embedding(tf.transpose(x)), (zeros, zeros))
        h = tf.gather_nd(states, tf.stack([lengths - 1, tf.range(batch)], axis=-1))
        loc, log_var = tf.split(self.head(h), 2, axis=-1)
        return loc, log_var

    def posterior(self, x: tf.Tensor) -> tfd.Distribution:
        """Returns q(z|x) with batch shape [batch] and event shape [latent_dim]."""
        return gaussian_posterior(*self.params(x))


class LSTMDecoder(tf.Module):
    """LSTM token decoder p(x|z); z sets the initial state and enters every input step.

    Dropout (on the input embeddings and on the LSTM outputs) and word dropout (decoder
    inputs other than ``BOS`` replaced by ``UNK``; Bowman et al. 2016, Sec. 3.2) act only in
    training steps, which pass a ``noise_seed``; they are stateless, so a run stays a pure
    function of its seed. Evaluation and sampling use no dropout.

    Args:
        latent_dim: Dimension of z.
        event_shape: [T], the padded sequence length.
        kind: Must be ``"tokens"``.
        vocab_size: Number of token ids (set from the data, not an option).
        hidden_size: LSTM units.
        embedding_size: Width of the token embeddings.
        dropout: Dropout rate on the input embeddings and the LSTM outputs, in [0, 1).
        word_dropout: Probability of replacing a decoder input word by ``UNK``, in [0, 1].
        skip: Feed z to the output layer too (Dieng et al. 2019).
        parameterization: A style of :data:`vae_tfp.models.text_layers.TEXT_PARAMETERIZATIONS`
            (``"he2019"``: He et al.'s initialisation, c_0 = W z and h_0 = tanh(c_0), no
            bias in the state and output layers).
        softmax_over_all_tokens: Normalise the softmax over every token id, ``PAD`` and
            ``BOS`` included, as He et al.'s and Li et al.'s decoders do (their
            ``nn.CrossEntropyLoss`` over ``len(vocab)`` logits with the ``<pad>`` weight
            left at 1; jxhe/vae-lagging-encoder cdc4eb9, ``modules/decoders/dec_lstm.py``):
            the same weights then give each sentence a lower probability. By default
            ``PAD`` and ``BOS`` are never predicted.

    Raises:
        ValueError: On non-token data, a missing vocabulary size or a rate out of range.
    """

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        kind: str,
        vocab_size: int | None = None,
        hidden_size: int = 64,
        embedding_size: int = 32,
        dropout: float = 0.0,
        word_dropout: float = 0.0,
        skip: bool = False,
        parameterization: str = "keras",
        softmax_over_all_tokens: bool = False,
    ):
        super().__init__(name="lstm_decoder")
        check_tokens("lstm decoder", event_shape, kind, vocab_size)
        if not 0.0 <= dropout < 1.0 or not 0.0 <= word_dropout <= 1.0:
            raise ValueError(
                f"dropout must be in [0, 1) and word_dropout in [0, 1], got {dropout}, "
                f"{word_dropout}"
            )
        self.latent_dim = int(latent_dim)
        self.event_shape = (int(event_shape[0]),)
        self.vocab_size = int(vocab_size)
        self.dropout = float(dropout)
        self.word_dropout = float(word_dropout)
        self.skip = bool(skip)
        style = text_parameterization(parameterization)
        self.shared_initial_state = style.shared_initial_state
        self.embedding = style.embedding(self.vocab_size, embedding_size)
        state_units = int(hidden_size) * (1 if self.shared_initial_state else 2)
        self.initial_state = style.projection(state_units)
        self.lstm = style.lstm(hidden_size, return_sequences=True)
        self.head = style.projection(self.vocab_size)
        self._blocked = None if softmax_over_all_tokens else blocked_logits(self.vocab_size)
        # The weights now, in the order the layers read their inputs.
        build_layer(self.embedding, (None, None))
        build_layer(self.initial_state, (None, self.latent_dim))
        build_layer(self.lstm, (None, None, int(embedding_size) + self.latent_dim))
        build_layer(self.head, (None, int(hidden_size) + (self.latent_dim if self.skip else 0)))

    @property
    def uses_training_noise(self) -> bool:
        """Whether training steps should pass a ``noise_seed`` (dropout is on)."""
        return self.dropout > 0.0 or self.word_dropout > 0.0

    def _state0(self, z: tf.Tensor) -> list[tf.Tensor]:
        if self.shared_initial_state:
            c = self.initial_state(z)
            return [tf.tanh(c), c]
        h, c = tf.split(self.initial_state(z), 2, axis=-1)
        return [tf.tanh(h), c]

    def _offset(self) -> tf.Tensor | float:
        """The output layer's bias (if it has one) plus the blocked tokens' -1e9 (if any)."""
        offset = 0.0
        for term in (self.head.bias, self._blocked):
            if term is not None:
                offset += term
        return offset

    def _states(
        self, x: tf.Tensor, z: tf.Tensor, noise_seed: tf.Tensor | None, cut: bool
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The LSTM outputs under teacher forcing, after dropout, time-major.

        Returns:
            (outputs [T', B, H], tokens [T', B], valid positions [T', B]), T' the width of x
            or, with ``cut``, of its longest sentence (:func:`cut_to_longest`).
        """
        x = tf.cast(x, tf.int32)
        given = tf.shape(x)
        valid = valid_positions(x)
        inputs = tf.concat([tf.fill([given[0], 1], BOS_ID), x[:, :-1]], axis=1)
        inputs = tf.where(valid, inputs, PAD_ID)  # inputs after the EOS never matter
        seeds = (
            tf.random.experimental.stateless_split(noise_seed, 3)
            if noise_seed is not None
            else None
        )
        if seeds is not None and self.word_dropout > 0.0:
            inputs = drop_words(inputs, self.word_dropout, seeds[0])
        steps = tf.shape(cut_to_longest(x)[0])[1] if cut else given[1]
        embedded = self.embedding(tf.transpose(inputs[:, :steps]))
        dropout = seeds is not None and self.dropout > 0.0
        if dropout:
            shape = tf.concat([given, [self.embedding.output_dim]], 0)
            embedded *= time_major_dropout_mask(shape, self.dropout, seeds[1], steps)
        out = lstm_states(self.lstm.cell, embedded, self._state0(z), constant_inputs=z)
        if dropout:
            shape = tf.concat([given, [self.lstm.cell.units]], 0)
            out *= time_major_dropout_mask(shape, self.dropout, seeds[2], steps)
        return out, tf.transpose(x[:, :steps]), tf.transpose(valid[:, :steps])

    def _output_logits(self, outputs: tf.Tensor, z_rows: tf.Tensor) -> tf.Tensor:
        """W h (+ U z with skip) + b for rows of outputs [N, H] and their codes [N, d]."""
        if self.skip:
            outputs = tf.concat([outputs, z_rows], axis=-1)
        return tf.matmul(outputs, self.head.kernel) + self._offset()

    def logits(self, x: tf.Tensor, z: tf.Tensor, noise_seed: tf.Tensor | None = None) -> tf.Tensor:
        """Logits of p(x_t | x_<t, z) at every position (teacher forcing), [B, T, V].

        Args:
            x: Token ids [B, T].
            z: Latent codes [B, d].
            noise_seed: A stateless seed turning dropout and word dropout on, or None.
        """
        out, _, _ = self._states(x, z, noise_seed, cut=False)
        steps, batch = tf.shape(out)[0], tf.shape(out)[1]
        rows = tf.reshape(out, [steps * batch, -1])
        logits = self._output_logits(rows, tf.tile(z, [steps, 1]))
        return tf.transpose(tf.reshape(logits, [steps, batch, self.vocab_size]), [1, 0, 2])

    def log_prob(self, x: tf.Tensor, z: tf.Tensor, noise_seed: tf.Tensor | None = None):
        """log p(x|z) of token ids x [B, T] given z [B, d], [B] nats.

        The sum over each sentence's positions of log Categorical(x_t | logits_t), as
        :func:`vae_tfp.models.tokens.token_log_prob` of :meth:`logits`, with the output
        layer and the softmax computed at those positions only (outside XLA).
        """
        out, tokens, valid = self._states(x, z, noise_seed, cut=True)
        steps, batch = tf.shape(tokens)[0], tf.shape(tokens)[1]
        if in_xla_context():  # static shapes: every position, those after the EOS masked
            rows = tf.reshape(out, [steps * batch, -1])
            labels, keep = tf.reshape(tokens, [-1]), tf.reshape(valid, [-1])
            sentence = tf.tile(tf.range(batch, dtype=tf.int64), [steps])
        else:
            positions = tf.where(valid)  # [N, 2]: (t, b) of every word and EOS
            rows, labels = tf.gather_nd(out, positions), tf.gather_nd(tokens, positions)
            keep, sentence = None, positions[:, 1]
        logits = self._output_logits(rows, tf.gather(z, sentence) if self.skip else None)
        log_p = categorical_log_prob(logits, labels)
        if keep is not None:
            log_p = tf.where(keep, log_p, 0.0)
        return tf.math.unsorted_segment_sum(log_p, sentence, batch)

    def __call__(self, z: tf.Tensor, noise_seed: tf.Tensor | None = None) -> tfd.Distribution:
        def log_prob_fn(x: tf.Tensor) -> tf.Tensor:
            flat_x, flat_z, batch = flatten_pair(tf.cast(x, tf.int32), z)
            return tf.reshape(self.log_prob(flat_x, flat_z, noise_seed), batch)

        def sample_fn(n: int, seed) -> tf.Tensor:
            return self._ancestral_sample(n, z, seed)

        return BoundDistribution(
            log_prob_fn, sample_fn, z.shape[:-1], self.event_shape, tf.int32, "LSTMDecoder"
        )

    def _ancestral_sample(self, n: int, z: tf.Tensor, seed, greedy: bool = False) -> tf.Tensor:
        flat_z = tf.tile(tf.reshape(z, (-1, self.latent_dim)), [n, 1])
        state = self._state0(flat_z)
        token = tf.fill(tf.shape(flat_z)[:1], BOS_ID)
        done = tf.zeros_like(token, tf.bool)
        seeds = tf.random.experimental.stateless_split(stateless_seed(seed), self.event_shape[0])
        tokens = []
        for t in range(self.event_shape[0]):
            step_in = tf.concat([self.embedding(token), flat_z], axis=-1)
            out, state = self.lstm.cell(step_in, state)
            logits = self._output_logits(out, flat_z)
            if greedy:
                token = tf.argmax(logits, axis=-1, output_type=tf.int32)
            else:
                token = tfd.Categorical(logits=logits, dtype=tf.int32).sample(seed=seeds[t])
            token = tf.where(done, PAD_ID, token)
            tokens.append(token)
            done = tf.logical_or(done, tf.equal(token, EOS_ID))
        shape = tf.concat([[n], tf.shape(z)[:-1], self.event_shape], 0)
        return tf.reshape(tf.stack(tokens, axis=-1), shape)

    def sample(self, z: tf.Tensor, seed: int | tf.Tensor) -> tf.Tensor:
        """One ancestral sample per row of z, [batch, T]: words, ``EOS``, then ``PAD``.

        A sample that reaches T tokens without ``EOS`` is cut there (it has no ``EOS``).
        """
        return self(z).sample(seed=stateless_seed(seed))

    def greedy_decode(self, z: tf.Tensor) -> tf.Tensor:
        """The most probable word at each step given the words before, [batch, T].

        Greedy decoding as in Bowman et al. 2016's homotopies (Sec. 5.3): deterministic,
        so sentences decoded along a line in z space change only where z does.
        """
        return self._ancestral_sample(1, z, seed=0, greedy=True)[0]
