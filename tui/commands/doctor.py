"""``dockyard doctor``: check docker, buildx, emulation, podman, the keyring and the registries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.commands import write_json

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check what this machine can do for a release, each problem with its fix",
        description="Check the docker CLI, buildx and its builders, QEMU emulation, podman, the "
        "keyring backend and the registries of the images in ./dockyard.toml. "
        "Exit 0 when no check fails (warnings allowed), 1 otherwise.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--repo", type=Path, default=Path.cwd(),
                        help="project whose dockyard.toml names the registries (default: .)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path
    from core.doctor import run_doctor

    report = run_doctor(args.repo)
    if args.json:
        write_json(report.to_dict())
    else:
        width = max(len(check.name) for check in report.checks)
        for check in report.checks:
            sys.stdout.write(f"{_MARK[check.status]}  {check.name:<{width}}  {check.summary}\n")
            for detail in check.details:
                sys.stdout.write(f"      {'':<{width}}  {detail}\n")
            if check.status != "ok":
                sys.stdout.write(f"      {'':<{width}}  fix: {check.fix}\n")
    return 0 if report.ok else 1
