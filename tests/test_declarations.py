"""Hyper-parameter declarations: checks and messages, and the finiteness of configs."""

import dataclasses
import math

import pytest

from vae_tfp.declarations import (
    Param,
    check_declared,
    declared_params,
    hyperparameter,
    keyword_arguments,
    non_finite_paths,
)

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (Param(float, "d", minimum=0), 2, 2.0),  # an int given for a float
        (Param(int, "d", minimum=1), 3.0, 3),  # an integral float given for an int
        (Param(float, "d", minimum=0, exclusive_minimum=True, allow_infinite=True), INF, INF),
        (Param(str, "d", choices=("a", "b")), "b", "b"),
        (Param(bool, "d"), False, False),
    ],
)
def test_accepted_values_come_back_as_the_declared_type(param, value, expected):
    checked = param.check("k", value)
    assert checked == expected and type(checked) is type(expected)


@pytest.mark.parametrize(
    ("param", "value", "error", "message"),
    [
        (Param(float, "d", minimum=0), -1, ValueError, "k must be >= 0, got -1.0"),
        (Param(float, "d", minimum=0, maximum=1), 1.5, ValueError, "k must be in [0, 1], got 1.5"),
        (
            Param(float, "d", minimum=0, maximum=1, exclusive_minimum=True),
            0.0,
            ValueError,
            "k must be in (0, 1], got 0.0",
        ),
        (Param(int, "d", minimum=1), 0, ValueError, "k must be an integer >= 1, got 0"),
        (Param(int, "d", minimum=1), 2.5, TypeError, "k must be an integer >= 1, got 2.5"),
        (Param(float, "d", minimum=0), NAN, ValueError, "k must be a finite number >= 0, got nan"),
        (Param(float, "d"), -INF, ValueError, "k must be a finite number, got -inf"),
        (
            Param(float, "d", minimum=0, allow_infinite=True),
            NAN,
            ValueError,
            "k must be a number (inf allowed) >= 0, got nan",
        ),
        (Param(float, "d"), True, TypeError, "k must be a number, got True"),
        (Param(float, "d"), "1", TypeError, "k must be a number, got '1'"),
        (Param(str, "d", choices=("a", "b")), "c", ValueError, "k must be one of ['a', 'b']"),
    ],
)
def test_rejected_values_are_named_with_what_is_allowed(param, value, error, message):
    with pytest.raises(error) as raised:
        param.check("k", value)
    assert str(raised.value).startswith(message)


@dataclasses.dataclass(frozen=True)
class Example:
    rate: float = hyperparameter(description="a rate", minimum=0)
    steps: int = hyperparameter(3, description="a count", minimum=0)
    lambda_: float = hyperparameter(0.5, description="a floor", key="lambda")
    filled_in_later: int = 0

    def __post_init__(self):
        check_declared(self)


def test_declared_fields_by_config_key_and_keyword_arguments():
    declared = declared_params(Example)
    assert list(declared) == ["rate", "steps", "lambda"]  # filled_in_later is no setting
    assert declared["rate"].required and not declared["steps"].required
    assert declared["lambda"].field == "lambda_" and declared["lambda"].default == 0.5
    arguments = keyword_arguments(Example, "example", {"rate": 1, "lambda": 0.1})
    made = Example(**arguments)
    assert made.rate == 1.0 and type(made.rate) is float and made.lambda_ == 0.1
    with pytest.raises(TypeError, match=r"example got unknown hyper-parameters \['rat'\]"):
        keyword_arguments(Example, "example", {"rat": 1})
    with pytest.raises(TypeError, match=r"example needs hyper-parameters \['rate'\]"):
        keyword_arguments(Example, "example", {})
    with pytest.raises(ValueError, match="rate must be >= 0"):
        Example(rate=-1)


def test_non_finite_numbers_are_found_with_their_key_paths():
    config = {
        "training": {"learning_rate": NAN, "epochs": 3},
        "datasets": {"x": {"options": {"spectrum": [1.0, INF, -INF]}}},
        "name": "nan",  # a string is not a number
    }
    assert [path for path, _ in non_finite_paths(config)] == [
        "training.learning_rate",
        "datasets.x.options.spectrum[1]",
        "datasets.x.options.spectrum[2]",
    ]
