"""The dataset registry: one named entry per dataset, used by config validation and the CLI."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from vae_tfp.data.digits import build_digits
from vae_tfp.data.linear_gaussian import build_linear_gaussian, linear_gaussian_reference
from vae_tfp.data.store import PreparedData


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the suite knows about a dataset before loading it.

    Attributes:
        name: Registry name.
        kind: ``"binary"`` or ``"real"``; selects the decoder likelihood.
        decoders: Decoder types that apply to this dataset.
        build: Builder ``build(data_seed, **options) -> PreparedData``.
        description: One line for listings.
        reference_metrics: For synthetic data, ``f(data, latent_dim) -> dict`` of exact
            answers on the test split that evaluation records beside the estimates.
    """

    name: str
    kind: str
    decoders: tuple[str, ...]
    build: Callable[..., PreparedData]
    description: str
    reference_metrics: Callable[[PreparedData, int], dict[str, float]] | None = None

    def option_names(self) -> list[str]:
        """Names of the options the builder accepts (besides ``data_seed``)."""
        params = inspect.signature(self.build).parameters
        return [name for name in params if name != "data_seed"]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            kind="binary",
            decoders=("mlp",),
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
    )
}


def prepare_dataset(name: str, options: dict[str, Any]) -> PreparedData:
    """Builds dataset ``name`` from its options (which must include ``data_seed``).

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
    return spec.build(**options)
