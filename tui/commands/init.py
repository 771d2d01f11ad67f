"""``dockyard init``: write a Dockerfile and dockyard.toml from dockyard's templates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="write a Dockerfile and dockyard.toml that work with dockyard",
        description="Write a Dockerfile from dockyard's templates and set the mode in "
        "dockyard.toml. The template follows the project (Cargo.toml: Rust, go.mod: Go) and, in "
        "copy mode, how the binaries are linked (static: FROM scratch). An existing Dockerfile "
        "is only replaced with --force (exit 2 otherwise).",
    )
    parser.add_argument("--mode", choices=("copy", "build"),
                        help="copy prebuilt binaries, or build inside the Dockerfile")
    parser.add_argument("--lang", choices=("rust", "go", "generic"),
                        help="template language (default: detected)")
    parser.add_argument("--binary", metavar="TEMPLATE",
                        help="copy mode: where each platform's binary is, e.g. "
                        "target/{musl_triple}/release/app")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing Dockerfile and dockyard.toml settings")
    parser.add_argument("--repo", type=Path, default=Path.cwd(),
                        help="project root (default: .)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads semver
    from core.scaffold import plan_init, write_init

    plan = plan_init(args.repo.resolve(), mode=args.mode, lang=args.lang, binary=args.binary,
                     force=args.force)
    written = write_init(plan)
    sys.stdout.write(f"{plan.mode} mode, {plan.summary()}\n")
    for path in written:
        sys.stdout.write(f"wrote {path.relative_to(plan.root)}\n")
    if plan.binary:
        sys.stdout.write(f"binaries: {plan.binary} (staged where the Dockerfile copies them)\n")
    return 0
