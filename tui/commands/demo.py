"""``dockyard demo``: a throw-away copy-mode project plus a local registry, opened in the wizard."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="create a sample project and a local registry on 127.0.0.1:5000, then open the wizard",
        description="Create a throw-away git project (copy mode, linux/amd64 and linux/arm64, "
        "tag v0.1.0) publishing to 127.0.0.1:5000/demo/app, start a local registry there when "
        "none answers, and open the assistant on the project.",
    )
    parser.add_argument("--dir", type=Path, metavar="DIR",
                        help="where to create the project (new or empty; default: a temp dir)")
    parser.add_argument("--registry", default=None, metavar="HOST:PORT",
                        help="loopback address of the demo registry (default: 127.0.0.1:5000)")
    parser.add_argument("--no-open", action="store_true",
                        help="only create the project and the registry, do not open the wizard")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.demo import DEFAULT_REGISTRY, create_demo, ensure_registry

    host = args.registry or DEFAULT_REGISTRY
    directory = args.dir or Path(tempfile.mkdtemp(prefix="dockyard-demo-"))
    project = create_demo(directory, registry=host)
    out = sys.stdout
    out.write(f"demo project: {project.root}\n")
    out.write(f"  image {project.image}, tag {project.tag}, platforms "
              f"{', '.join(project.platforms)}, copy mode ({project.binary_template})\n")
    registry = ensure_registry(host)
    if registry.state == "unavailable":
        out.write(f"registry: {registry.problem}\n")
    else:
        out.write(f"registry: {registry.host} {registry.how}\n")
    if registry.stop:
        out.write(f"  stop it with: {registry.stop}\n")
    if args.no_open:
        out.write(f"open the wizard with: cd {project.root} && dockyard\n")
        return 0 if registry.state != "unavailable" else 1
    from tui.app import run_app

    return int(run_app(project.root))
