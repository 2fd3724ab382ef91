"""Argument checks shared by the package: every bad value gets a :class:`RefusedArgument` (a
ValueError) that names the argument, the value it got and what is allowed."""

import math
import numbers


class RefusedArgument(ValueError):
    """An argument value the package refuses, with a one-line message naming it and what is allowed.

    A ValueError of its own so that an explorer can show it as a note, and still let every other
    ValueError (a bug) through. Raised as ``lrcourse.RefusedArgument``."""

    __module__ = "lrcourse"  # how tracebacks name it: the package's public name, not this private module


def number(name, value, allowed):
    """Return ``value`` as a float, or raise if it is not a real number (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise RefusedArgument(f"{name} must be a finite number ({allowed}); got {value!r}")
    return float(value)


def positive(name, value):
    """A real number > 0, such as a learning rate."""
    value = number(name, value, "a number > 0")
    if not value > 0:
        raise RefusedArgument(f"{name} must be > 0; got {value!r}")
    return value


def non_negative(name, value):
    """A real number >= 0, such as a decay rate or a power."""
    value = number(name, value, "a number >= 0")
    if not value >= 0:
        raise RefusedArgument(f"{name} must be >= 0; got {value!r}")
    return value


def in_unit_interval(name, value):
    """A real number in (0, 1], such as a drop factor or gamma."""
    value = number(name, value, "a number in (0, 1]")
    if not 0 < value <= 1:
        raise RefusedArgument(f"{name} must be in (0, 1]; got {value!r}")
    return value


def momentum(name, value):
    """A real number in [0, 1], such as a momentum."""
    value = number(name, value, "a number in [0, 1]")
    if not 0 <= value <= 1:
        raise RefusedArgument(f"{name} must be in [0, 1]; got {value!r}")
    return value


def fraction(name, value):
    """A real number in (0, 0.5], such as the share of a split held out for validation."""
    value = number(name, value, "a fraction in (0, 0.5]")
    if not 0 < value <= 0.5:
        raise RefusedArgument(f"{name} must be a fraction in (0, 0.5]; got {value!r}")
    return value


def count(name, value, minimum=1):
    """A whole number >= ``minimum``, such as a number of epochs or steps."""
    if number(name, value, f"a whole number >= {minimum}") != int(value) or value < minimum:
        raise RefusedArgument(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def choice(name, value, allowed):
    """One of the strings in ``allowed``."""
    if value not in allowed:
        raise RefusedArgument(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def steps_per_execution(value):
    """A whole number >= 1 of updates per compiled call; on the torch backend only 1 (Keras refuses more there)."""
    import keras

    value = count("steps_per_execution", value)
    if value > 1 and keras.backend.backend() == "torch":
        raise RefusedArgument(f"steps_per_execution must be 1 on the torch backend (Keras runs torch one step a call); "
                              f"got {value}: use 1, or KERAS_BACKEND=tensorflow or jax to group steps")
    return value
