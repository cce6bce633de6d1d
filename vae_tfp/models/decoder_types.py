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


def decoder_class(name: str) -> type:
    """The class registered as decoder type ``name``.

    Raises:
        KeyError: On an unknown type, listing the registered ones.
    """
    if name not in DECODER_TYPES:
        raise KeyError(f"unknown decoder type {name!r}; registered: {sorted(DECODER_TYPES)}")
    module, _, attribute = DECODER_TYPES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
