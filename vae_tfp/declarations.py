"""Declared settings: a hyper-parameter is declared once, with its type, default and range.

A method (built-in or plugin) declares each hyper-parameter as a dataclass field made by
:func:`hyperparameter`; the :class:`Param` in the field's metadata is what the config
validation reads (unknown keys, types, ranges, finiteness), what the method's own
constructor checks, and what ``python -m vae_tfp methods`` lists. There is no second copy
of these facts in the JSON schema.

Every number in a config must be finite: :func:`non_finite_paths` finds NaN and +-inf
anywhere in a config, and a :class:`Param` rejects them unless it is declared with
``allow_infinite=True`` (then +-inf may be given, NaN never).

This module imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Iterator, Mapping
from typing import Any

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


@dataclasses.dataclass(frozen=True)
class Param:
    """The declaration of one hyper-parameter.

    Attributes:
        type: ``int``, ``float``, ``bool`` or ``str`` (from the field's annotation).
        description: One line for listings and error messages.
        minimum: Lower bound, or None.
        maximum: Upper bound, or None.
        exclusive_minimum: Whether the lower bound itself is excluded.
        exclusive_maximum: Whether the upper bound itself is excluded.
        allow_infinite: Whether +-inf is an allowed value (NaN never is).
        choices: The allowed values of a string, or None.
        key: The config key, when it differs from the field name (``lambda`` is a Python
            keyword: the field is ``lambda_``).
    """

    type: type
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    allow_infinite: bool = False
    choices: tuple[str, ...] | None = None
    key: str | None = None

    def range_text(self) -> str:
        """The allowed values in words: ``>= 0``, ``in (0, 1]``, ``one of [...]``."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left = "(" if self.exclusive_minimum else "["
            right = ")" if self.exclusive_maximum else "]"
            return f"in {left}{low:g}, {high:g}{right}"
        if low is not None:
            return f"{'>' if self.exclusive_minimum else '>='} {low:g}"
        if high is not None:
            return f"{'<' if self.exclusive_maximum else '<='} {high:g}"
        return ""

    def check(self, key: str, value: Any) -> Any:
        """Returns ``value`` as the declared type, or raises naming ``key`` and what is allowed.

        Raises:
            TypeError: On a value of the wrong type (a bool is not a number; an integral
                float is accepted as an integer).
            ValueError: On NaN, on +-inf unless ``allow_infinite``, and out of range.
        """
        wanted = f"{_TYPE_NAMES[self.type]} {self.range_text()}".strip()
        if self.type is bool or self.type is str:
            if not isinstance(value, self.type):
                raise TypeError(f"{key} must be {wanted}, got {value!r}")
            if self.choices is not None and value not in self.choices:
                raise ValueError(f"{key} must be {self.range_text()}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{key} must be {wanted}, got {value!r}")
        if math.isnan(value) or (math.isinf(value) and not self.allow_infinite):
            number = "a number (inf allowed)" if self.allow_infinite else "a finite number"
            allowed = f"{number} {self.range_text()}".strip()
            raise ValueError(f"{key} must be {allowed}, got {value}")
        if self.type is int:
            if math.isinf(value) or int(value) != value:
                raise TypeError(f"{key} must be {wanted}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        below = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        above = self.maximum is not None and (
            value >= self.maximum if self.exclusive_maximum else value > self.maximum
        )
        if below or above:
            prefix = "an integer " if self.type is int else ""
            raise ValueError(f"{key} must be {prefix}{self.range_text()}, got {value}")
        return value


def hyperparameter(
    default: Any = dataclasses.MISSING,
    *,
    description: str,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
    allow_infinite: bool = False,
    choices: tuple[str, ...] | None = None,
    key: str | None = None,
    kw_only: bool = False,
) -> Any:
    """A dataclass field declaring a hyper-parameter (its type is the field's annotation).

    Without ``default`` the hyper-parameter is required: a config must give it. A base
    class declares its hyper-parameters with ``kw_only=True``, so that subclasses may still
    declare required ones (a dataclass field without a default cannot follow one with a
    default unless the latter is keyword-only).

    Example::

        @dataclasses.dataclass(frozen=True)
        class Beta(Method):
            name: ClassVar[str] = "beta"
            beta: float = hyperparameter(description="KL weight", minimum=0)
    """
    declaration = {
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "exclusive_maximum": exclusive_maximum,
        "allow_infinite": allow_infinite,
        "choices": choices,
        "key": key,
    }
    return dataclasses.field(
        default=default, kw_only=kw_only, metadata={"declaration": declaration}
    )


@dataclasses.dataclass(frozen=True)
class Declared:
    """A declared hyper-parameter of a dataclass: its field, declaration and default."""

    field: str
    param: Param
    default: Any  # dataclasses.MISSING when required

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


@functools.cache
def declared_params(cls: type) -> dict[str, Declared]:
    """The hyper-parameters a dataclass declares with :func:`hyperparameter`, by config key.

    Fields without a declaration (values filled in at run time, e.g. by ``bind()``) are not
    hyper-parameters and are left out.

    Raises:
        TypeError: If a declared field's annotation is not int, float, bool or str.
    """
    hints = typing.get_type_hints(cls)
    declared: dict[str, Declared] = {}
    # A class's own hyper-parameters first, then the keyword-only ones of its bases.
    for field in sorted(dataclasses.fields(cls), key=lambda f: f.kw_only is True):
        options = field.metadata.get("declaration")
        if options is None:
            continue
        kind = hints[field.name]
        if kind not in _TYPE_NAMES:
            raise TypeError(
                f"{cls.__name__}.{field.name}: a hyper-parameter is int, float, bool or str, "
                f"not {kind!r}"
            )
        param = Param(type=kind, **options)
        declared[param.key or field.name] = Declared(field.name, param, field.default)
    return declared


def check_declared(instance: Any) -> None:
    """Checks and converts every declared field of a frozen dataclass instance in place.

    Called from ``__post_init__``: after it, an ``int`` field holds an int and a ``float``
    field a float, whatever numeric type was given.

    Raises:
        TypeError, ValueError: From :meth:`Param.check`, naming the config key.
    """
    for key, declared in declared_params(type(instance)).items():
        value = declared.param.check(key, getattr(instance, declared.field))
        object.__setattr__(instance, declared.field, value)


def keyword_arguments(cls: type, owner: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Maps config keys to constructor arguments of ``cls``, checking names and presence.

    Args:
        cls: A dataclass with declared hyper-parameters.
        owner: How error messages name what is being configured, e.g. ``"method 'beta'"``.
        given: The configured values by config key.

    Raises:
        TypeError: On a key that is not declared, or a required one that is missing; the
            message names them and lists the declared keys.
    """
    declared = declared_params(cls)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TypeError(
            f"{owner} got unknown hyper-parameters {unknown}; accepted: {list(declared)}"
        )
    missing = [key for key, d in declared.items() if d.required and key not in given]
    if missing:
        raise TypeError(f"{owner} needs hyper-parameters {missing}; accepted: {list(declared)}")
    return {declared[key].field: value for key, value in given.items()}


def non_finite_paths(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Yields ``(key path, value)`` for every NaN or +-inf number inside a config.

    Paths read like ``training.learning_rate`` or ``datasets.linear_gaussian.options
    .spectrum[1]``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from non_finite_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from non_finite_paths(item, f"{path}[{index}]")
