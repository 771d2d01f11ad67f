"""Byte counts for people. Apart from core.rendering, whose engine and plan imports would
cost ``dockyard inspect`` ~40 ms for one formatting function."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Bytes in decimal units, as registries and docker show them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
