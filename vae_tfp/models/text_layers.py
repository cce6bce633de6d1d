"""How the text models' layers are parameterized and initialised: a registry of named styles.

The LSTM encoder and decoder of :mod:`vae_tfp.models.sequence` build their layers here, in
one of two styles:

``keras`` (the default)
    ``tf_keras``'s defaults: embeddings uniform in [-0.05, 0.05], Glorot-uniform kernels,
    orthogonal recurrent kernels, the LSTM's forget-gate bias at 1 and its other biases at
    0; every dense layer has a bias; the decoder's initial state is (tanh(A z + a),
    B z + b) with its own A and B.
``he2019``
    The text VAE of He et al. 2019's code (jxhe/vae-lagging-encoder at cdc4eb9:
    ``text.py``, ``modules/encoders/enc_lstm.py``, ``modules/decoders/dec_lstm.py``), which
    Li et al. 2019's code reuses (bohanli/vae-pretraining-encoder at d59f91c): every
    weight and bias uniform in [-0.01, 0.01] and the embeddings in [-0.1, 0.1]
    (``uniform_initializer(0.01)`` and ``(0.1)``); the encoder's output layer, the
    decoder's z-to-state layer and its output layer have no bias; the initial state is
    c_0 = W z, h_0 = tanh(c_0) with one W; the LSTM has PyTorch's two bias vectors
    (``bias_ih`` and ``bias_hh``, :class:`TwoBiasLSTMCell`), each drawn uniform.

The styles differ in the initial values, the biases and the z-to-state layer (H outputs
giving c_0 and tanh(c_0), against 2H split into the two); the rest of the computation is
``tf_keras``'s, and both styles run on the fast path of :mod:`vae_tfp.models.recurrent`,
which reads the cell's ``bias``. The two bias vectors are not one bias in disguise: both
receive the gate offsets' gradient, so an SGD step moves their sum at twice the rate of a
single bias, and gradient-norm clipping counts that gradient twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import tf_keras


def _uniform(scale: float) -> tf_keras.initializers.Initializer:
    # A fresh object each time: an unseeded tf_keras initializer called twice returns the
    # same values, so no two weights may share one.
    return tf_keras.initializers.RandomUniform(-scale, scale)


class TwoBiasLSTMCell(tf_keras.layers.LSTMCell):
    """``tf_keras``'s LSTM cell with PyTorch's two bias vectors, ``bias_ih`` + ``bias_hh``.

    ``tf_keras`` builds one ``bias`` variable (PyTorch's ``bias_ih``); this cell adds a
    second, ``recurrent_bias`` (``bias_hh``), with the same initializer, and ``bias`` reads
    as their sum wherever the cell's computation uses it (its own ``call``, the fast path
    of :func:`vae_tfp.models.recurrent.lstm_states`). Both variables are trained, as in
    ``torch.nn.LSTM``, which He et al.'s and Li et al.'s text models use.
    """

    @property
    def bias(self):
        """The gates' offset: ``bias_ih + bias_hh`` once built."""
        input_bias = self.__dict__.get("_input_bias")
        recurrent_bias = self.__dict__.get("_recurrent_bias")
        if input_bias is None or recurrent_bias is None:
            return input_bias
        return input_bias + recurrent_bias

    @bias.setter
    def bias(self, variable) -> None:
        # tf_keras's build assigns the variable it creates (bias_ih) to ``self.bias``.
        self._input_bias = variable

    def build(self, input_shape) -> None:
        super().build(input_shape)
        if self.use_bias:
            self._recurrent_bias = self.add_weight(
                shape=(4 * self.units,),
                name="recurrent_bias",
                initializer=self.bias_initializer.__class__.from_config(
                    self.bias_initializer.get_config()
                ),
            )


@dataclass(frozen=True)
class TextParameterization:
    """The initialisers and biases of the text models' layers (see the module docstring).

    Attributes:
        weights_scale: Every weight and bias uniform in [-scale, scale], the embeddings
            excepted (``None``: ``tf_keras``'s default initialisers).
        embeddings_scale: The embeddings uniform in [-scale, scale] (``None``: Keras's).
        projection_bias: Whether the encoder's output layer and the decoder's z-to-state
            and output layers have a bias.
        two_lstm_biases: Whether the LSTM has PyTorch's two bias vectors
            (:class:`TwoBiasLSTMCell`) or ``tf_keras``'s one.
        shared_initial_state: The decoder's initial state as c_0 = W z, h_0 = tanh(c_0)
            (True) or (tanh(A z + a), B z + b) (False).
    """

    weights_scale: float | None
    embeddings_scale: float | None
    projection_bias: bool
    two_lstm_biases: bool
    shared_initial_state: bool

    def _weights(self, *names: str) -> dict:
        if self.weights_scale is None:
            return {}
        return {name: _uniform(self.weights_scale) for name in names}

    def embedding(self, vocab_size: int, size: int) -> tf_keras.layers.Embedding:
        """An embedding table of ``vocab_size`` rows of width ``size``."""
        init = {}
        if self.embeddings_scale is not None:
            init = {"embeddings_initializer": _uniform(self.embeddings_scale)}
        return tf_keras.layers.Embedding(int(vocab_size), int(size), **init)

    def lstm(self, units: int, return_sequences: bool = False) -> tf_keras.layers.RNN:
        """A one-layer LSTM of ``units`` units (its cell is ``.cell``)."""
        init = self._weights("kernel_initializer", "recurrent_initializer", "bias_initializer")
        if self.weights_scale is not None:
            init.update(unit_forget_bias=False)
        if not self.two_lstm_biases:
            return tf_keras.layers.LSTM(int(units), return_sequences=return_sequences, **init)
        cell = TwoBiasLSTMCell(int(units), **init)
        return tf_keras.layers.RNN(cell, return_sequences=return_sequences)

    def projection(self, units: int) -> tf_keras.layers.Dense:
        """A dense layer of ``units`` outputs (with a bias only where the style has one)."""
        names = ("kernel_initializer", "bias_initializer")
        init = self._weights(*names[: 1 + self.projection_bias])
        return tf_keras.layers.Dense(int(units), use_bias=self.projection_bias, **init)


KERAS = TextParameterization(
    weights_scale=None,
    embeddings_scale=None,
    projection_bias=True,
    two_lstm_biases=False,
    shared_initial_state=False,
)
HE2019 = TextParameterization(
    weights_scale=0.01,
    embeddings_scale=0.1,
    projection_bias=False,
    two_lstm_biases=True,
    shared_initial_state=True,
)

# Style name -> its parameterization.
TEXT_PARAMETERIZATIONS = {"keras": KERAS, "he2019": HE2019}


def text_parameterization(name: str) -> TextParameterization:
    """The named style of :data:`TEXT_PARAMETERIZATIONS`.

    Raises:
        ValueError: On an unknown name, listing the known ones.
    """
    if name not in TEXT_PARAMETERIZATIONS:
        raise ValueError(
            f"unknown text parameterization {name!r}; choose one of "
            f"{sorted(TEXT_PARAMETERIZATIONS)}"
        )
    return TEXT_PARAMETERIZATIONS[name]
