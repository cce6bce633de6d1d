"""Encoders, decoders and the prior; a VAE assembles them (knows no method, no loop).

The names below are imported on first access (PEP 562), so that importing a light
submodule such as :mod:`vae_tfp.models.decoder_types` does not import TensorFlow.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DECODER_TYPES": "vae_tfp.models.decoder_types",
    "decoder_class": "vae_tfp.models.decoder_types",
    "build_decoder": "vae_tfp.models.decoders",
    "MADEDecoder": "vae_tfp.models.autoregressive",
    "PixelCNNDecoder": "vae_tfp.models.pixelcnn",
    "GaussianEncoder": "vae_tfp.models.encoder",
    "LSTMDecoder": "vae_tfp.models.sequence",
    "SequenceEncoder": "vae_tfp.models.sequence",
    "VAE": "vae_tfp.models.vae",
    "ForwardResult": "vae_tfp.models.vae",
    "build_vae": "vae_tfp.models.vae",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vae_tfp.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
