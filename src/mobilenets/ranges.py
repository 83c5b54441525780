"""The values a numeric setting allows, declared beside the setting and checked in one way
everywhere: by the model and training configs (ValueError), while parsing the command line
(``mobilenets.cli.common.number``), a CSV cell or an environment variable (``Range.parse``),
with the same message naming the allowed range. A leaf module: every layer may use it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Range:
    """``low``/``high`` bounds (None: unbounded above), open or closed; ``whole`` for counts.
    NaN and infinities are never in a range."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False

    def describe(self) -> str:
        """The allowed values in words: ``a whole number >= 1``, ``a number in (0, 4]``."""
        kind = "a whole number" if self.whole else "a number"
        if self.high is None:
            return f"{kind} {'>' if self.low_open else '>='} {_shown(self.low)}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{kind} in {left}{_shown(self.low)}, {_shown(self.high)}{right}"

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.whole and not isinstance(value, int):
            return False
        if not self.whole and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def check(self, name: str, value: Any) -> None:
        """Raises ValueError (``NAME must be a number in (0, 4]; got 1e+308``) unless allowed."""
        if not self.contains(value):
            raise ValueError(self._refusal(name, value))

    def parse(self, name: str, text: str) -> int | float:
        """``text`` (a flag, a CSV cell, an environment variable) as an allowed number, a whole
        one for a count; ValueError naming ``name`` (if any) and the range otherwise."""
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            value = None
        if value is None or not self.contains(value):
            raise ValueError(self._refusal(name, text))
        return value

    def _refusal(self, name: str, value: Any) -> str:
        return f"{name} must be {self.describe()}; got {value!r}".lstrip()


def _shown(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def count(low: int, high: int | None = None) -> Range:
    """Whole numbers from ``low`` (to ``high``, inclusive)."""
    return Range(low, high, whole=True)


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1, high_open=True)  # [0, 1)
SHARE = Range(0, 1)  # [0, 1]
OPEN_UNIT = Range(0, 1, low_open=True, high_open=True)  # (0, 1)


def check_declared(settings: Any) -> None:
    """Checks every field of the dataclass ``settings`` that declares ``choices`` or a ``range``
    in its metadata (None passes: "not given"), raising ValueError naming the first bad one."""
    for declared in fields(settings):
        value = getattr(settings, declared.name)
        if value is None:
            continue
        choices, allowed = declared.metadata.get("choices"), declared.metadata.get("range")
        if choices is not None and value not in choices:
            raise ValueError(
                f"{declared.name} must be one of {', '.join(map(str, choices))}; got {value!r}"
            )
        if allowed is not None:
            allowed.check(declared.name, value)


def declared(
    default: Any,
    allowed: Range | None = None,
    choices: tuple[Any, ...] | None = None,
    *,
    help: str = "",
    group: str = "",
    metavar: str | None = None,
) -> Any:
    """A dataclass field whose allowed values ``check_declared`` checks, with what a command-line
    flag made from it shows (``help``, its argument ``group``, ``metavar``)."""
    metadata = {
        "range": allowed,
        "choices": choices,
        "help": help,
        "group": group,
        "metavar": metavar,
    }
    return field(default=default, metadata=metadata)


__all__ = [
    "FRACTION",
    "NON_NEGATIVE",
    "OPEN_UNIT",
    "POSITIVE",
    "Range",
    "SHARE",
    "check_declared",
    "count",
    "declared",
]
