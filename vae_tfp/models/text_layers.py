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
    c_0 = W z, h_0 = tanh(c_0) with one W. PyTorch's LSTM adds two bias vectors (input and
    recurrent), each drawn uniform; the Keras LSTM has one, so it starts at the sum of two
    such draws, the same distribution of the gates' offsets.

The styles differ in the initial values, the presence of biases and the z-to-state layer
(H outputs giving c_0 and tanh(c_0), against 2H split into the two); the layers, their
variables' names and the rest of the computation are those of ``tf_keras``, so either style
runs on the fast path of :mod:`vae_tfp.models.recurrent`. PyTorch's two LSTM bias vectors
also learn at twice the rate of one (both receive the gradient): a difference the configs
list (``protocol_differences``), not one this module removes.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
import tf_keras


def _uniform(scale: float) -> tf_keras.initializers.Initializer:
    # A fresh object each time: an unseeded tf_keras initializer called twice returns the
    # same values, so no two weights may share one.
    return tf_keras.initializers.RandomUniform(-scale, scale)


class SumOfUniforms(tf_keras.initializers.Initializer):
    """U(-scale, scale) + U(-scale, scale) elementwise: one bias vector for PyTorch's two.

    Args:
        scale: Half-width of each uniform draw.
    """

    def __init__(self, scale: float):
        self.scale = float(scale)

    def __call__(self, shape, dtype=None, **kwargs):
        dtype = tf.as_dtype(dtype or tf.float32)
        return _uniform(self.scale)(shape, dtype) + _uniform(self.scale)(shape, dtype)

    def get_config(self) -> dict:
        return {"scale": self.scale}


@dataclass(frozen=True)
class TextParameterization:
    """The initialisers and biases of the text models' layers (see the module docstring).

    Attributes:
        weights_scale: Every weight and bias uniform in [-scale, scale], the embeddings
            excepted and the LSTM bias the sum of two such draws (``None``: ``tf_keras``'s
            default initialisers).
        embeddings_scale: The embeddings uniform in [-scale, scale] (``None``: Keras's).
        projection_bias: Whether the encoder's output layer and the decoder's z-to-state
            and output layers have a bias.
        shared_initial_state: The decoder's initial state as c_0 = W z, h_0 = tanh(c_0)
            (True) or (tanh(A z + a), B z + b) (False).
    """

    weights_scale: float | None
    embeddings_scale: float | None
    projection_bias: bool
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

    def lstm(self, units: int, return_sequences: bool = False) -> tf_keras.layers.LSTM:
        """A one-layer LSTM of ``units`` units."""
        init = self._weights("kernel_initializer", "recurrent_initializer")
        if self.weights_scale is not None:
            init.update(bias_initializer=SumOfUniforms(self.weights_scale), unit_forget_bias=False)
        return tf_keras.layers.LSTM(int(units), return_sequences=return_sequences, **init)

    def projection(self, units: int) -> tf_keras.layers.Dense:
        """A dense layer of ``units`` outputs (with a bias only where the style has one)."""
        names = ("kernel_initializer", "bias_initializer")
        init = self._weights(*names[: 1 + self.projection_bias])
        return tf_keras.layers.Dense(int(units), use_bias=self.projection_bias, **init)


KERAS = TextParameterization(
    weights_scale=None, embeddings_scale=None, projection_bias=True, shared_initial_state=False
)
HE2019 = TextParameterization(
    weights_scale=0.01, embeddings_scale=0.1, projection_bias=False, shared_initial_state=True
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
