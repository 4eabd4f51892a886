"""Checks of public arguments, so that a wrong one fails at the call that took it, naming the
argument, what was expected and what was given: not later inside pybind (an "incompatible
function arguments" TypeError listing C++ signatures) or as a ZeroDivisionError deep inside.

Type errors raise ArgumentTypeError (a TypeError), values out of range ArgumentError (a
ValueError); both are TangramErrors with code INVALID_ARGUMENT. bool is refused where a number is
expected: True would silently read as 1.
"""

import math
import numbers

from tangram.errors import ArgumentError, ArgumentTypeError

__all__ = ["ArgumentError", "ArgumentTypeError", "flag", "number", "rank", "seconds", "whole"]


def _given(value):
    return f"got {value!r} ({type(value).__name__})"


def number(value, name, where, minimum=None, above=None, below=None, at_most=None):
    """`value` as a float: a real number (not a bool), finite, within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{where}: {name} must be a number, {_given(value)}")
    given, value = value, float(value)
    bounds = [(minimum, lambda v, b: v >= b, ">="), (above, lambda v, b: v > b, ">"),
              (below, lambda v, b: v < b, "<"), (at_most, lambda v, b: v <= b, "<=")]
    wanted = " and ".join(f"{op} {b:g}" for b, _, op in bounds if b is not None)
    if not math.isfinite(value) or not all(ok(value, b) for b, ok, _ in bounds if b is not None):
        raise ArgumentError(f"{where}: {name} must be a finite number{' ' if wanted else ''}"
                            f"{wanted}, {_given(given)}")
    return value


def seconds(value, name, where):
    """A timeout: a finite number of seconds > 0 (0 or less would silently mean "the default"
    to the C++ communicator, and infinity a possible hang)."""
    return number(value, name, where, above=0)


def whole(value, name, where, minimum=None):
    """`value` as an int: an integer (an int, 3.0, or a one-element integral tensor; not a bool,
    not 2.5, not "3"), >= minimum."""
    if not isinstance(value, (bool, numbers.Integral)) and hasattr(value, "item"):
        try:
            value = value.item()  # a one-element tensor
        except (ValueError, RuntimeError):
            pass  # more elements: refused below
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{where}: {name} must be a whole number, {_given(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ArgumentError(f"{where}: {name} must be a whole number >= {minimum}, "
                            f"{_given(value)}")
    return value


def rank(value, name, where, size):
    """A rank of a communicator of `size` ranks."""
    value = whole(value, name, where, minimum=0)
    if value >= size:
        raise ArgumentError(f"{where}: {name} must be a rank in [0, {size}), {_given(value)}")
    return value


def flag(value, name, where):
    """True or False (a truthy string such as "False" would read as True)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{where}: {name} must be True or False, {_given(value)}")
    return value
