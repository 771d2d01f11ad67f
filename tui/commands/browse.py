"""``dockyard browse [IMAGE]``: what a registry holds for a repository, tag by tag."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import DockyardError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "browse",
        help="browse the tags of an image in its registry (digest, platforms, size, age)",
        description="Open the registry browser on IMAGE (e.g. ghcr.io/acme/app; a :tag becomes "
        "the filter). Without IMAGE it starts on the first image of ./dockyard.toml, if any. "
        "Stored logins (dockyard login) are used for private repositories.",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="repository to browse")
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="allow plain http / unverified TLS to this registry "
                        "(loopback is always allowed)")
    parser.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate of a registry with a private CA")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpcore, httpx, semver, textual
    from core.registry import check_ca_file
    from tui.standalone import run_browser

    ca_file = check_ca_file(args.ca_file) if args.ca_file is not None else None
    return run_browser(args.image or _configured_image(Path.cwd()),
                       insecure_registries=args.insecure_registry, ca_file=ca_file)


def _configured_image(root: Path) -> str | None:
    # kept off dockyard --help's path: loads semver
    from core.config import load_config

    try:
        images = load_config(root).images
    except DockyardError:
        return None  # `dockyard doctor` reports a broken dockyard.toml; browsing needs none
    return images[0] if images else None
