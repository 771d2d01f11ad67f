"""``dockyard diff IMAGE:A IMAGE:B``: what changed between two images of one repository."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from tui.commands import add_registry_options, registry_options, write_json

if TYPE_CHECKING:
    from core.reference import Reference


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two tags or digests of an image: sizes, layers, config per platform",
        description="Compare A with B platform by platform: compressed size and its delta, "
        "layers added and removed, and the config settings that differ (labels, entrypoint, "
        "cmd, env, user, workdir, exposed ports); platforms only one side has.",
    )
    parser.add_argument("a", metavar="IMAGE:A", help="e.g. ghcr.io/acme/app:1.2.0 or "
                        "ghcr.io/acme/app@sha256:...")
    parser.add_argument("b", metavar="IMAGE:B", help="the same repository with another tag "
                        "or digest, or the tag alone (1.3.0) or @sha256:... alone")
    parser.add_argument("--json", action="store_true", help="machine-readable output "
                        "(schema in the README)")
    add_registry_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpx, keyring, semver
    from core.clients import logged_in_clients
    from core.diff import diff_images, diff_lines

    a, b = _references(args.a, args.b)
    insecure, ca_file = registry_options(args)
    clients = logged_in_clients(insecure, ca_file=ca_file)
    with clients(a.name) as client:
        diff = diff_images(client, a.name, _ref(a), _ref(b))
    if args.json:
        write_json(diff.to_dict())
    else:
        sys.stdout.write("\n".join(diff_lines(diff)) + "\n")
    return 0


def _references(first: str, second: str) -> tuple[Reference, Reference]:
    """Both references, B completed from A when it is a bare tag or ``@digest``; refused unless
    both name a tag or digest of the same repository."""
    # kept off dockyard --help's path: loads semver
    from core.reference import parse_reference

    a = parse_reference(first)
    text = second.strip()
    if text.startswith("@"):
        b = parse_reference(f"{a.name}{text}")
    elif text and not any(mark in text for mark in "/:@"):  # a tag alone: "1.3.0"
        b = parse_reference(f"{a.name}:{text}")
    else:
        b = parse_reference(text)
    for given, reference in ((first, a), (second, b)):
        if reference.tag is None and reference.digest is None:
            raise DockyardError(f"{given!r} names no tag or digest",
                                "give IMAGE:TAG or IMAGE@sha256:..., e.g. ghcr.io/acme/app:1.2.0",
                                field="image")
    if a.name != b.name:
        raise DockyardError(f"{first!r} and {second!r} are different repositories",
                            "compare two tags or digests of one repository", field="image")
    return a, b


def _ref(reference: Reference) -> str:
    """The digest when one is given (it names the image exactly), else the tag."""
    return reference.digest or str(reference.tag)
