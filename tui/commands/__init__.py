"""The headless commands, one module each (``register(subparsers)``), and the options the
commands that read a registry share."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.envhosts import insecure_registries_from_env
from core.errors import DockyardError, ImageRefError


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """``--insecure-registry HOST`` (repeatable) and ``--ca-file PEM``, worded alike everywhere."""
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="allow plain http / unverified TLS to this registry "
                        "(loopback is always allowed)")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate of a registry with a private CA (trusted besides "
                        "the system's CAs)")


def insecure_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    """The hosts that may use plain http: ``$DOCKYARD_INSECURE_REGISTRIES`` and every
    ``--insecure-registry`` (a flag adds to the machine's setting, never replaces it). A bad
    host is one line naming the option."""
    # kept off dockyard --help's path: loads semver
    from core.reference import check_registry_host

    for host in args.insecure_registry:
        try:
            check_registry_host(host)
        except ImageRefError as err:
            raise DockyardError(err.problem, err.valid, field="insecure-registry") from None
    machine = insecure_registries_from_env()
    return tuple(dict.fromkeys((*machine, *args.insecure_registry)))


def registry_options(args: argparse.Namespace) -> tuple[tuple[str, ...], Path | None]:
    """``insecure_hosts`` and the checked ``--ca-file`` of a command that reads a registry."""
    if args.ca_file is None:
        return insecure_hosts(args), None
    # kept off dockyard --help's path: loads httpcore, httpx
    from core.registry import check_ca_file

    return insecure_hosts(args), check_ca_file(args.ca_file)


def add_reports_option(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    """``--reports DIR``: where a run writes its report (``writes``), or which reports a
    command reads; default dockyard's state dir. ``reports_dir`` checks it."""
    what = "where the run report goes" if writes else "run reports to read"
    parser.add_argument("--reports", type=Path, metavar="DIR",
                        help=f"{what} (default: dockyard's state dir)")


def reports_dir(args: argparse.Namespace, *, reading: bool = False) -> Path | None:
    """The ``--reports`` directory given, refused in one line when it is not a directory: one
    to read must exist (a typo would read nothing), one to write is made with its report."""
    given: Path | None = args.reports
    if given is not None and (given.exists() or reading) and not given.is_dir():
        raise DockyardError(f"{given} is not a directory",
                            "give the directory run reports are written to", field="reports")
    return given


def write_json(data: Any) -> None:
    """A command's ``--json`` answer on stdout: indented, one trailing newline."""
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
