"""``dockyard demo``: a throw-away copy-mode project plus a local registry, opened in the wizard.

The registry comes first: without a usable one the demo fails before anything is written or the
wizard opens. A registry the demo started is stopped when the wizard closes (unless
``--keep-registry`` or ``--no-open``); one it found already running is never stopped. Every
registry left running is announced with the command that stops it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from core.errors import RegistryError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="create a sample project and a local registry on 127.0.0.1:5000, then open the wizard",
        description="Create a throw-away git project (copy mode, linux/amd64 and linux/arm64, "
        "tag v0.1.0) publishing to 127.0.0.1:5000/demo/app, start a local registry there when "
        "none answers, and open the assistant on the project. A registry the demo started is "
        "stopped when the assistant closes.",
    )
    parser.add_argument("--dir", type=Path, metavar="DIR",
                        help="where to create the project (new or empty; default: a temp dir)")
    parser.add_argument("--registry", default=None, metavar="HOST:PORT",
                        help="loopback address of the demo registry (default: 127.0.0.1:5000)")
    parser.add_argument("--no-open", action="store_true",
                        help="only create the project and the registry (left running), do not "
                        "open the wizard")
    parser.add_argument("--keep-registry", action="store_true",
                        help="leave the registry the demo started running after the wizard")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads semver
    from core.demo import DEFAULT_REGISTRY, create_demo, ensure_registry, stop_registry

    host = args.registry or DEFAULT_REGISTRY
    registry = ensure_registry(host)
    if registry.state == "unavailable":
        raise RegistryError(
            registry.problem, "or use another port: dockyard demo --registry 127.0.0.1:PORT")
    out = sys.stdout
    try:
        directory = args.dir or Path(tempfile.mkdtemp(prefix="dockyard-demo-"))
        project = create_demo(directory, registry=host)
    except BaseException:
        stop_registry(registry)
        raise
    out.write(f"demo project: {project.root}\n")
    out.write(f"  image {project.image}, tag {project.tag}, platforms "
              f"{', '.join(project.platforms)}, copy mode ({project.binary_template})\n")
    keep = args.no_open or args.keep_registry
    if registry.state == "running":
        out.write(f"registry: {registry.host} already running (not started by dockyard, "
                  "so it is left as it is)\n")
    else:
        out.write(f"registry: {registry.host} {registry.how}\n")
    # The wizard covers the terminal, so what the demo did with the registry is said there too.
    notice = {"running": f"Registry {registry.host} was already running: left as it is.",
              "started": f"Registry started on {registry.host}: "
              + ("left running after you quit." if keep else "stopped when you quit.")
              }.get(registry.state, "")
    code = 0
    if args.no_open:
        out.write(f"open the wizard with: cd {project.root} && dockyard\n")
    else:
        out.flush()
        # kept off dockyard --help's path: loads textual
        from tui.app import run_app

        try:
            code = int(run_app(project.root, notices=[notice]))
        finally:
            if not keep:
                stop_registry(registry)
        if registry.state == "started" and not keep:
            out.write(f"registry: stopped the demo registry on {registry.host}\n")
        out.write(f"demo project kept in {project.root}\n")
    if keep and registry.state == "started":
        out.write(f"registry: {registry.host} is left running; stop it with: {registry.stop}\n")
    return code
