"""The headless commands, one module each (``register(subparsers)``), and the options the
commands that read a registry share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """``--insecure-registry HOST`` (repeatable) and ``--ca-file PEM``, worded alike everywhere."""
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="allow plain http / unverified TLS to this registry "
                        "(loopback is always allowed)")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate of a registry with a private CA (trusted besides "
                        "the system's CAs)")
