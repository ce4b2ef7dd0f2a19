"""Sizes as people read them, for reasons, the digest and the status page."""

from __future__ import annotations


def format_bytes(size: int) -> str:
    """``0 B``, ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    value = float(min(size, 1024**6))  # past float's range, a tag's number is shown capped
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{_trim(value)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _trim(number: float) -> str:
    text = f"{number:.1f}"
    return text.removesuffix(".0")
