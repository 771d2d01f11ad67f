"""``dockyard browse [IMAGE]``: what a registry holds for a repository, tag by tag."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import DockyardError
from tui.commands import add_registry_options, registry_options


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "browse",
        help="browse the tags of an image in its registry (digest, platforms, size, age)",
        description="Open the registry browser on IMAGE (e.g. ghcr.io/acme/app; a :tag becomes "
        "the filter). Without IMAGE it starts on the first image of ./dockyard.toml, if any. "
        "Stored logins (dockyard login) are used for private repositories.",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="repository to browse")
    add_registry_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpcore, httpx, semver, textual
    from tui.standalone import run_browser

    insecure, ca_file = registry_options(args)
    if args.image and _is_registry(args.image):
        return _list_repositories(args.image.rstrip("/"), insecure, ca_file)
    return run_browser(args.image or _configured_image(Path.cwd()),
                       insecure_registries=insecure, ca_file=ca_file)


def _configured_image(root: Path) -> str | None:
    # kept off dockyard --help's path: loads semver
    from core.config import load_config

    try:
        images = load_config(root).images
    except DockyardError:
        return None  # `dockyard doctor` reports a broken dockyard.toml; browsing needs none
    return images[0] if images else None


def _is_registry(text: str) -> bool:
    """A registry alone (``ghcr.io``, ``127.0.0.1:5000``, ``localhost/``), not an image: the
    first part of a name is a registry when it has a '.' or ':' or is localhost, as docker
    reads it; a Docker Hub image with a dot is written docker.io/library/NAME."""
    host = text[:-1] if text.endswith("/") else text
    return "/" not in host and ("." in host or ":" in host or host == "localhost")


def _list_repositories(host: str, insecure: tuple[str, ...], ca_file: Path | None) -> int:
    """The registry's catalog, one repository a line; a registry without one says so in one
    line (exit 2), since there is then nothing to browse without an image name."""
    # kept off dockyard --help's path: loads httpcore, httpx, semver
    from core.clients import logged_in_clients
    from core.reference import parse_reference

    try:
        name = parse_reference(f"{host}/catalog").name
    except DockyardError as err:
        raise DockyardError(err.problem, err.valid, field="image") from None
    with logged_in_clients(insecure, ca_file=ca_file)(name) as client:
        repositories = client.list_repositories()
        rate = client.rate_limit
    if repositories is None:
        raise DockyardError(f"{host} has no catalog to list its repositories from (or does not "
                            "let this login read it)",
                            f"give an image to browse, e.g. dockyard browse {host}/OWNER/NAME",
                            field="image")
    lines = [f"{host}: {len(repositories)} repositories"]
    lines += [f"  {repository}" for repository in repositories]
    if rate is not None:
        lines.append(f"rate limit: {rate.describe()}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
