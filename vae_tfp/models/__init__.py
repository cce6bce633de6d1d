"""Encoders, decoders and the prior; a VAE assembles them (knows no method, no loop)."""

from vae_tfp.models.autoregressive import MADEDecoder, PixelCNNDecoder
from vae_tfp.models.decoders import DECODERS, build_decoder
from vae_tfp.models.encoder import GaussianEncoder
from vae_tfp.models.sequence import LSTMDecoder, SequenceEncoder
from vae_tfp.models.vae import VAE, ForwardResult, build_vae

__all__ = [
    "DECODERS",
    "VAE",
    "ForwardResult",
    "GaussianEncoder",
    "LSTMDecoder",
    "MADEDecoder",
    "PixelCNNDecoder",
    "SequenceEncoder",
    "build_decoder",
    "build_vae",
]
