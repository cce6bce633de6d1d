"""The protocol differences a config lists (``protocol_differences``: dataset -> sentences),
as the per-dataset table captions and the report's landing page print them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def differences_caption(differences: Sequence[str]) -> str:
    """The caption sentence of one dataset's differences ("" when there are none)."""
    if not differences:
        return ""
    items = "; ".join(
        f"({i}) {' '.join(d.split()).rstrip('.')}" for i, d in enumerate(differences, 1)
    )
    return f" Protocol differences from the published configuration: {items}."


def differences_section(by_dataset: Mapping[str, Sequence[str]]) -> str:
    """The landing page's reStructuredText section listing every dataset's differences
    ("" when the config lists none)."""
    if not any(by_dataset.values()):
        return ""
    lines = ["Protocol differences", "--------------------", ""]
    lines.append(
        "Where these runs differ from the published protocols they follow (the config's "
        "protocol_differences):"
    )
    lines.append("")
    for dataset, differences in by_dataset.items():
        for difference in differences:
            lines.append(f"- **{dataset}**: {' '.join(difference.split())}")
    return "\n".join(lines)
