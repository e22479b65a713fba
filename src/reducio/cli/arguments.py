"""argparse pieces shared by every `reducio` command.

Numeric options are checked while the command line is parsed, so `--guidance nan` or
`--batch-size 0` stops in a millisecond with one line naming the option, the value and the valid
range, instead of loading models and writing a black video. `ReducioArgumentParser` prints that
line without the usage block (which runs to 30 lines for `generate`).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from reducio.errors import ShapeError

# Weight and compute dtypes a command accepts (reducio.loading.dtypes.resolve_dtype reads them).
DTYPE_NAMES = ("fp32", "bf16", "fp16")

# torch.Generator.manual_seed takes any signed 64-bit value; a non-negative one is also a valid
# numpy / random seed, so one range fits every generator a command seeds.
SEED_MAX = 2**63 - 1


class ReducioArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `reducio CMD: error: ...; see --help`."""

    def error(self, message: str) -> None:  # argparse's hook; must not return
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse `type` accepting integers in [minimum, maximum] (either end may be open)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {_range(minimum, maximum)}, "
                                             f"got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be an integer {_range(minimum, maximum)}, got {text}")
        return value

    parse.__name__ = "integer"
    return parse


def number(minimum: float | None = None, maximum: float | None = None, *,
           above: float | None = None) -> Callable[[str], float]:
    """An argparse `type` accepting finite numbers >= minimum (or > above) and <= maximum.

    NaN and infinity are always refused: no option means "no limit" by them, and a NaN scale
    turns every sample into NaN (a black video).
    """
    limits = _range(minimum, maximum, above)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a finite number {limits}, got {text!r}") from None
        if (not math.isfinite(value) or (minimum is not None and value < minimum)
                or (above is not None and value <= above) or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"must be a finite number {limits}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _range(minimum=None, maximum=None, above=None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum:g}" if isinstance(minimum, float) else f">= {minimum}")
    if above is not None:
        parts.append(f"> {above:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}" if isinstance(maximum, float) else f"<= {maximum}")
    return " and ".join(parts) if parts else "(any)"


# The types commands share; each reads as the rule it enforces.
positive_int = integer(1)                 # counts, steps, batch sizes
non_negative_int = integer(0)             # indices, offsets
seed = integer(0, SEED_MAX)
positive_number = number(above=0.0)       # frame rates, time budgets
non_negative_number = number(0.0)         # start times, guidance scales (1 = off)



def parse_size_arg(text: str | None) -> int | tuple[int, int] | None:
    """--size S or HxW -> S or (H, W); None stays None (the command's default size)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+))?\s*", str(text))
    if match is None:
        raise ShapeError(f"--size must be S or HxW (e.g. 256 or 256x448), got {text!r}")
    height, width = match.groups()
    return int(height) if width is None else (int(height), int(width))
