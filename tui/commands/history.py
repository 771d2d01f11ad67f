"""``dockyard history IMAGE``: every published version, its image, and the aliases on it now."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from tui.commands import (
    add_registry_options,
    add_reports_option,
    registry_options,
    reports_dir,
    write_json,
)

if TYPE_CHECKING:
    from core.history import History


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list an image's published versions with digests, platforms and aliases",
        description="List every SemVer version tag IMAGE's registry holds (prereleases too), "
        "oldest first: digest, platforms with compressed sizes, created, git revision label, "
        "the aliases pointing at it now, and the local release runs that published it.",
    )
    parser.add_argument("image", metavar="IMAGE", help="e.g. ghcr.io/acme/app (no tag)")
    parser.add_argument("--json", action="store_true", help="machine-readable output "
                        "(schema in the README)")
    add_registry_options(parser)
    add_reports_option(parser, writes=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpx, keyring, semver
    from core.clients import logged_in_clients
    from core.history import read_history
    from core.reference import parse_reference
    from core.release_report import default_report_dir

    reference = parse_reference(args.image)
    if reference.tag is not None or reference.digest is not None:
        raise DockyardError(f"{args.image!r} names a tag or digest",
                            "give the repository alone, e.g. ghcr.io/acme/app", field="image")
    report_dir = reports_dir(args, reading=True)
    insecure, ca_file = registry_options(args)
    clients = logged_in_clients(insecure, ca_file=ca_file)
    with clients(reference.name) as client:
        history = read_history(client, reference.name.path, str(reference.name),
                               report_dir=report_dir or default_report_dir())
        data = history.to_dict()
        if client.rate_limit is not None:  # Docker Hub states its pull allowance
            data["rate_limit"] = client.rate_limit.to_dict()
    if args.json:
        write_json(data)
    else:
        sys.stdout.write(_text(history))
    return 0


def _text(history: History) -> str:
    # kept off dockyard --help's path: loads semver
    from core.rendering import human_size

    lines = [history.image]
    if not history.versions:
        lines.append("  (no version tags)")
    for version in history.versions:
        aliases = f"  <- {', '.join(version.aliases)}" if version.aliases else ""
        lines.append(f"  {version.version.image_tag}  {version.digest}{aliases}")
        lines.append(f"    created {version.created or '-'}  revision {version.revision or '-'}")
        lines += [f"    {p.platform}  {human_size(p.size)}" for p in version.platforms]
        for run in version.runs:
            moves = ", ".join(f"{alias} {(was or 'new')[:19]} -> {(to or '-')[:19]}"
                              for alias, was, to in run.moved)
            where = f" from {run.checkout}" if run.checkout else ""
            done = {"rollback": "rolled back to", "promote": "promoted"}.get(run.mode or "",
                                                                         "released")
            state = done if run.ok else f"{run.mode or 'release'} failed"
            lines.append(f"    {state} {run.started or '?'}{where}; moved {moves or 'nothing'}")
        lines += [f"    problem: {problem}" for problem in version.problems]
    if history.other_tags:
        lines.append(f"  other tags: {', '.join(history.other_tags)}")
    return "\n".join(lines) + "\n"
