"""Deterministic, disjoint train/valid/test splits."""

from __future__ import annotations

import numpy as np


def split_indices(
    n_examples: int, valid_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits ``range(n_examples)`` into disjoint train/valid/test index arrays.

    The split is a pure function of its arguments: one permutation drawn from
    ``numpy.random.default_rng(seed)``; the first ``round(test_fraction * n)`` indices are the
    test set, the next ``round(valid_fraction * n)`` the validation set, the rest training.

    Args:
        n_examples: Number of examples.
        valid_fraction: Fraction in (0, 1) of examples held out for validation.
        test_fraction: Fraction in (0, 1) held out for testing.
        seed: Seed of the permutation.

    Returns:
        (train, valid, test) index arrays, each sorted.

    Raises:
        ValueError: If the fractions leave no training example.
    """
    n_test = int(round(test_fraction * n_examples))
    n_valid = int(round(valid_fraction * n_examples))
    if min(n_test, n_valid) < 1 or n_test + n_valid >= n_examples:
        raise ValueError(
            f"valid_fraction={valid_fraction} and test_fraction={test_fraction} of "
            f"{n_examples} examples must leave at least one example in every split"
        )
    order = np.random.default_rng(seed).permutation(n_examples)
    test, valid, train = np.split(order, [n_test, n_test + n_valid])
    return np.sort(train), np.sort(valid), np.sort(test)
