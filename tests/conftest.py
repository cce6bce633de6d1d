"""Fixtures shared by several test modules."""

import numpy as np
import pytest

from vae_tfp.data.linear_gaussian import make_model


def pytest_collection_modifyitems(config, items):
    """Puts the tests marked ``slow`` first, in collection order otherwise. Under
    pytest-xdist (``make test`` runs one worker per core) the long pipelines then start at
    once and the short tests fill in around them, instead of one worker running the last
    pipeline alone while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_setup(item):
    """Fails a grouped test on a pytest-xdist worker whose ``--dist loadgroup`` does not
    group: the tests of one ``xdist_group`` share a module fixture (the tiny pipeline,
    minutes of Snakemake) that every worker would otherwise run again. pytest-xdist marks a
    grouped test by the suffix ``@group`` on its node id, which pytest 9.2 silently drops
    (pytest-dev/pytest-xdist#1386)."""
    grouping = getattr(item.config.option, "loadgroup", False)
    if grouping and item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
        pytest.fail(
            "--dist loadgroup does not group this test: this pytest and pytest-xdist lose "
            "its xdist_group mark (pytest-dev/pytest-xdist#1386); install the versions of "
            "requirements/lock.txt (make venv)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def ppca_and_data():
    """A pPCA model with orthogonal W (6 dimensions, spectrum 2, 1, 0.5, sigma 0.5) and 400
    examples drawn from it (float32): the exact log p(x) and posterior are known."""
    model = make_model(data_dim=6, spectrum=[2.0, 1.0, 0.5], noise_std=0.5, seed=1)
    rng = np.random.default_rng(5)
    x = (
        rng.standard_normal((400, 3)) @ model.weight.T
        + model.bias
        + 0.5 * rng.standard_normal((400, 6))
    )
    return model, x.astype(np.float32)
