"""The decoder registry: each type name and the class that implements it, imported on use.

Names are all that config validation needs, so this module imports no TensorFlow; the
class behind a name (a ``tf.Module``, see :mod:`vae_tfp.models.decoders`) is imported the
first time :func:`decoder_class` asks for it.
"""

from __future__ import annotations

import importlib

# Type name -> "module:class".
DECODER_TYPES: dict[str, str] = {
    "mlp": "vae_tfp.models.decoders:MLPDecoder",
    "linear": "vae_tfp.models.decoders:LinearDecoder",
    "made": "vae_tfp.models.autoregressive:MADEDecoder",
    "pixelcnn": "vae_tfp.models.autoregressive:PixelCNNDecoder",
    "lstm": "vae_tfp.models.sequence:LSTMDecoder",
}

# Decoder types whose train steps XLA compiles by default (training.jit_compile unset).
# Measured per epoch on one thread (embedded default settings): the MLP VAE 784-500-500-32
# gains about 1.5x steps/s at MNIST scale and the Burda MLP at batch 20 about 1.7x; XLA's
# CPU convolutions make the PixelCNN 70x slower (30 s vs 0.44 s per digits epoch) and give
# the LSTM and MADE nothing but a longer first trace.
XLA_TRAIN_STEPS = frozenset({"mlp", "linear"})


def decoder_class(name: str) -> type:
    """The class registered as decoder type ``name``.

    Raises:
        KeyError: On an unknown type, listing the registered ones.
    """
    if name not in DECODER_TYPES:
        raise KeyError(f"unknown decoder type {name!r}; registered: {sorted(DECODER_TYPES)}")
    module, _, attribute = DECODER_TYPES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
