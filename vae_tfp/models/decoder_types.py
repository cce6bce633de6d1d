"""The decoder registry: each type name and the class that implements it, imported on use.

Names are all that config validation needs, so this module imports no TensorFlow; the
class behind a name (a ``tf.Module``, see :mod:`vae_tfp.models.decoders`) is imported the
first time :func:`decoder_class` asks for it. Which built-in types apply to a dataset is
declared in the dataset registry; a plugin decoder (:func:`register_decoder`) declares the
dataset kinds it models instead.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence

# Type name -> "module:class".
DECODER_TYPES: dict[str, str] = {
    "mlp": "vae_tfp.models.decoders:MLPDecoder",
    "linear": "vae_tfp.models.decoders:LinearDecoder",
    "made": "vae_tfp.models.autoregressive:MADEDecoder",
    "pixelcnn": "vae_tfp.models.pixelcnn:PixelCNNDecoder",
    "gated_pixelcnn": "vae_tfp.models.gated_pixelcnn:GatedPixelCNNDecoder",
    "residual_pixelcnn": "vae_tfp.models.residual_pixelcnn:ResidualPixelCNNDecoder",
    "lstm": "vae_tfp.models.sequence:LSTMDecoder",
}

# Decoder types whose train steps XLA compiles by default (training.jit_compile unset).
# benchmarks/xla_train_steps.py times both modes per decoder type (docs/performance.md):
# XLA's CPU convolutions make both PixelCNNs many times slower, so they stay in graph mode;
# MADE and the LSTM also gain under XLA at the embedded scale but stay in graph mode for now
# (the LSTM's length batches at PTB scale gained nothing from per-shape XLA).
XLA_TRAIN_STEPS = frozenset({"mlp", "linear"})


# Constructor arguments that come from the data, not from the config.
STRUCTURAL_ARGS = ("self", "latent_dim", "event_shape", "kind", "vocab_size")

# Dataset kinds a decoder can model ("binary", "real", "tokens"), for plugin decoders.
DATASET_KINDS = ("binary", "real", "tokens")
PLUGIN_DECODER_KINDS: dict[str, tuple[str, ...]] = {}


def register_decoder(name: str, cls: type, kinds: Sequence[str]) -> type:
    """Registers ``cls`` as decoder type ``name`` for data of the given kinds (a plugin).

    The class follows the decoder contract of :mod:`vae_tfp.models.decoders`:
    ``cls(latent_dim, event_shape, kind, **options)`` (plus ``vocab_size`` when its
    constructor takes it) is a ``tf.Module`` whose ``__call__(z)`` returns the distribution
    p(x|z); its other constructor arguments are the options a decoder variant may set.

    Raises:
        ValueError: If the name is taken by another class or a kind is unknown.
    """
    current = DECODER_TYPES.get(name)
    target = f"{cls.__module__}:{cls.__qualname__}"
    if current is not None and current != target:
        raise ValueError(
            f"decoder type {name!r} is already registered ({current}); {target} needs another "
            "name"
        )
    unknown = sorted(set(kinds) - set(DATASET_KINDS))
    if unknown or not kinds:
        raise ValueError(
            f"decoder type {name!r}: kinds must be a non-empty subset of {list(DATASET_KINDS)}, "
            f"got {list(kinds)}"
        )
    DECODER_TYPES[name] = target
    PLUGIN_DECODER_KINDS[name] = tuple(kinds)
    return cls


def decoder_class(name: str) -> type:
    """The class registered as decoder type ``name``.

    Raises:
        KeyError: On an unknown type, listing the registered ones.
    """
    if name not in DECODER_TYPES:
        raise KeyError(f"unknown decoder type {name!r}; registered: {sorted(DECODER_TYPES)}")
    module, _, attribute = DECODER_TYPES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def decoder_option_names(name: str) -> list[str]:
    """The options a variant of decoder type ``name`` may set: its constructor's arguments
    other than :data:`STRUCTURAL_ARGS` (imports the class)."""
    parameters = inspect.signature(decoder_class(name).__init__).parameters
    return [p for p in parameters if p not in STRUCTURAL_ARGS]
