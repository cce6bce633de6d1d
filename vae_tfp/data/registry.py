"""The dataset registry: one named entry per dataset, used by config validation and the CLI."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from vae_tfp.data.digits import build_digits
from vae_tfp.data.images import build_binarized_mnist, build_fashion_mnist, build_mnist
from vae_tfp.data.linear_gaussian import build_linear_gaussian, linear_gaussian_reference
from vae_tfp.data.markov_mixture import build_markov_mixture, markov_mixture_reference
from vae_tfp.data.omniglot import build_omniglot
from vae_tfp.data.store import PreparedData
from vae_tfp.data.text import build_ptb, build_yahoo, build_yelp


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the suite knows about a dataset before loading it.

    Attributes:
        name: Registry name.
        kind: ``"binary"``, ``"real"`` or ``"tokens"``; selects the decoder likelihood.
        decoders: Decoder types that apply to this dataset.
        build: Builder ``build(data_seed, **options) -> PreparedData``.
        description: One line for listings.
        reference_metrics: For synthetic data, ``f(data, latent_dim) -> dict`` of exact
            answers on the test split that evaluation records beside the estimates.
        modality: What an example is: ``"vector"``, ``"binary_image"``,
            ``"grayscale_image"`` (stored as intensities, binarized for training) or
            ``"tokens"``.
        event_shape: Shape of one example with the default options (None: option-dependent).
        split_sizes: (train, valid, test) sizes with the default options (None: set by
            options).
    """

    name: str
    kind: str
    decoders: tuple[str, ...]
    build: Callable[..., PreparedData]
    description: str
    reference_metrics: Callable[[PreparedData, int], dict[str, float]] | None = None
    modality: str = "vector"
    event_shape: tuple[int, ...] | None = None
    split_sizes: tuple[int, int, int] | None = None

    def option_names(self) -> list[str]:
        """Names of the options the builder accepts (besides ``data_seed`` and the data
        cache folder ``cache_dir``, which is a machine setting, not a dataset option)."""
        params = inspect.signature(self.build).parameters
        return [name for name in params if name not in ("data_seed", "cache_dir")]

    @property
    def downloaded(self) -> bool:
        """Whether the builder reads files from the data cache (:mod:`vae_tfp.data.cache`)."""
        return "cache_dir" in inspect.signature(self.build).parameters


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            kind="binary",
            decoders=("mlp", "made", "pixelcnn", "gated_pixelcnn", "residual_pixelcnn"),
            build=build_digits,
            description="scikit-learn 8x8 digits, binarized (embedded)",
        ),
        DatasetSpec(
            name="linear_gaussian",
            kind="real",
            decoders=("linear", "mlp"),
            build=build_linear_gaussian,
            description="synthetic pPCA data with exact likelihood and posterior (embedded)",
            reference_metrics=linear_gaussian_reference,
        ),
        DatasetSpec(
            name="markov_mixture",
            kind="tokens",
            decoders=("lstm", "mlp"),
            build=build_markov_mixture,
            description="synthetic token sequences from a mixture of Markov chains (embedded)",
            reference_metrics=markov_mixture_reference,
            modality="tokens",
            event_shape=(13,),
            split_sizes=(3000, 500, 1000),
        ),
    )
}


# Downloaded datasets: files fetched once into the data cache and verified at every use
# (vae_tfp.data.cache; docs/datasets.md). Images apply to every image decoder, tokens to the
# sequence decoder; the config check compares these names with the decoder variants.
_IMAGE_DECODERS = ("mlp", "made", "pixelcnn", "gated_pixelcnn", "residual_pixelcnn")
_TOKEN_DECODERS = ("lstm",)
DATASETS.update(
    {
        spec.name: spec
        for spec in (
            DatasetSpec(
                name="binarized_mnist",
                kind="binary",
                decoders=_IMAGE_DECODERS,
                build=build_binarized_mnist,
                description="MNIST, fixed binarization of Larochelle & Murray 2011 (download)",
                modality="binary_image",
                event_shape=(28, 28),
                split_sizes=(50000, 10000, 10000),
            ),
            DatasetSpec(
                name="mnist",
                kind="binary",
                decoders=_IMAGE_DECODERS,
                build=build_mnist,
                description="MNIST, dynamically binarized (Burda et al. 2016) (download)",
                modality="grayscale_image",
                event_shape=(28, 28),
                split_sizes=(50000, 10000, 10000),
            ),
            DatasetSpec(
                name="fashion_mnist",
                kind="binary",
                decoders=_IMAGE_DECODERS,
                build=build_fashion_mnist,
                description="Fashion-MNIST, dynamically binarized (download)",
                modality="grayscale_image",
                event_shape=(28, 28),
                split_sizes=(50000, 10000, 10000),
            ),
            DatasetSpec(
                name="omniglot",
                kind="binary",
                decoders=_IMAGE_DECODERS,
                build=build_omniglot,
                description="Omniglot 28x28 of Burda et al. 2016, dynamically binarized",
                modality="grayscale_image",
                event_shape=(28, 28),
                split_sizes=(23000, 1345, 8070),
            ),
            DatasetSpec(
                name="ptb",
                kind="tokens",
                decoders=_TOKEN_DECODERS,
                build=build_ptb,
                description="Penn Treebank (Mikolov), 10k vocabulary, sentences (download)",
                modality="tokens",
                event_shape=(83,),
                split_sizes=(42068, 3370, 3761),
            ),
            DatasetSpec(
                name="yahoo",
                kind="tokens",
                decoders=_TOKEN_DECODERS,
                build=build_yahoo,
                description="Yahoo Answers documents of Yang et al. 2017 (place by hand)",
                modality="tokens",
                split_sizes=(100000, 10000, 10000),
            ),
            DatasetSpec(
                name="yelp",
                kind="tokens",
                decoders=_TOKEN_DECODERS,
                build=build_yelp,
                description="Yelp review documents of Yang et al. 2017 (place by hand)",
                modality="tokens",
                split_sizes=(100000, 10000, 10000),
            ),
        )
    }
)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Registers a dataset (a plugin); its ``build`` gets ``data_seed`` and its options.

    Raises:
        ValueError: If the name is taken by another dataset, or the kind is unknown.
    """
    current = DATASETS.get(spec.name)
    if current is not None and current is not spec:
        raise ValueError(
            f"dataset {spec.name!r} is already registered (built by "
            f"{current.build.__module__}.{current.build.__qualname__}); choose another name"
        )
    if spec.kind not in ("binary", "real", "tokens"):
        raise ValueError(
            f"dataset {spec.name!r}: kind must be 'binary', 'real' or 'tokens', got {spec.kind!r}"
        )
    DATASETS[spec.name] = spec
    return spec


def prepare_dataset(
    name: str, options: dict[str, Any], cache_dir: str | None = None
) -> PreparedData:
    """Builds dataset ``name`` from its options (which must include ``data_seed``).

    ``cache_dir`` is the configured data cache (the config's ``data_cache``), passed to the
    builders of downloaded datasets; ``VAE_TFP_DATA_CACHE`` overrides it
    (:func:`vae_tfp.data.cache.resolve_cache_dir`).

    Raises:
        KeyError: On an unknown dataset, listing the registered ones.
        TypeError: On an option the builder does not accept, listing the accepted ones.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)}")
    spec = DATASETS[name]
    unknown = sorted(set(options) - set(spec.option_names()) - {"data_seed"})
    if unknown:
        raise TypeError(
            f"dataset {name!r} got unknown options {unknown}; accepted: {spec.option_names()}"
        )
    if spec.downloaded:
        return spec.build(**options, cache_dir=cache_dir)
    return spec.build(**options)
