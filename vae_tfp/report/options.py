"""How an experiment config asks its tables to be written: row order, baseline, collapse
threshold, published conventions, protocol differences and the code-version rule.

One reading of the config's ``report`` section, shared by the workflow
(``workflows/rules/common.smk``) and the commands that build tables outside it
(``python -m vae_tfp interim-tables``), so both order and caption the rows alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vae_tfp.report.code_versions import DEFAULT_MODE


@dataclass(frozen=True)
class TableOptions:
    """The table settings of one experiment config.

    Attributes:
        order: ``{"dataset": [...], "decoder": [...], "method": [...]}`` in the order of the
            config's sections, the baseline method first.
        baseline: The method variant listed first and compared against.
        informative_mi: The collapse verdict's fixed threshold in nats, or None for each
            run's own (:func:`vae_tfp.report.collapse.informative_threshold`).
        published_conventions: Whether the per-dataset tables add He et al. 2019's AU and
            MI conventions.
        protocol_differences: Dataset -> sentences on where the runs differ from the
            published protocol they follow.
        code_versions: ``mark`` or ``refuse`` tables whose rows come from several code
            versions (:mod:`vae_tfp.report.code_versions`).
    """

    order: dict[str, list[str]]
    baseline: str = "vanilla"
    informative_mi: float | None = None
    published_conventions: bool = False
    protocol_differences: dict[str, list[str]] = field(default_factory=dict)
    code_versions: str = DEFAULT_MODE


def table_options(config: Mapping[str, Any]) -> TableOptions:
    """The :class:`TableOptions` of an experiment config (its ``report`` section, its
    ``protocol_differences`` and the order of its ``datasets``, ``decoders`` and
    ``methods``)."""
    report = config.get("report") or {}
    baseline = report.get("baseline", "vanilla")
    methods = list(config.get("methods") or [])
    method_order = [baseline] * (baseline in methods) + [m for m in methods if m != baseline]
    return TableOptions(
        order={
            "dataset": list(config.get("datasets") or []),
            "decoder": list(config.get("decoders") or []),
            "method": method_order,
        },
        baseline=baseline,
        # As written (1, not 1.0): the workflow puts it into a rule's params unchanged.
        informative_mi=report.get("informative_mi"),
        published_conventions=bool(report.get("published_conventions")),
        protocol_differences={
            dataset: list(sentences)
            for dataset, sentences in (config.get("protocol_differences") or {}).items()
        },
        code_versions=report.get("code_versions", DEFAULT_MODE),
    )
