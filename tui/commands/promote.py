"""``dockyard promote IMAGE:CANDIDATE --as VERSION``: publish a candidate as its release, no
rebuild; without --yes it says what it would do and changes nothing."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from core.errors import DockyardError
from tui.commands import (
    add_registry_options,
    add_reports_option,
    registry_options,
    reports_dir,
    write_json,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="publish a release candidate's image as its release (no rebuild)",
        description="Check that CANDIDATE (e.g. 1.3.0-rc.2) is whole and was built from the "
        "commit of the release's pushed git tag (v1.3.0 or 1.3.0), then create the version "
        "tag from its exact digest and move the aliases as a release would (--yes).",
    )
    parser.add_argument("image", metavar="IMAGE:CANDIDATE",
                        help="e.g. ghcr.io/acme/app:1.3.0-rc.2")
    parser.add_argument("--as", dest="target", required=True, metavar="VERSION",
                        help="the candidate's release, e.g. 1.3.0 for 1.3.0-rc.2")
    parser.add_argument("--repo", type=Path, metavar="DIR",
                        help="project git checkout holding the release's tag (default: the "
                        "current directory)")
    parser.add_argument("--yes", action="store_true",
                        help="promote; without it, print what would happen and exit 1")
    parser.add_argument("--json", action="store_true",
                        help="machine-readable output (the plan; with --yes, one event a line)")
    add_registry_options(parser)
    add_reports_option(parser, writes=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpx, keyring, semver, git
    from core.clients import logged_in_clients
    from core.promote import check_promotion, run_promotion
    from core.reference import parse_reference
    from tui.headless import print_events, stop_signals_cancel

    reference = parse_reference(args.image)
    root = Path.cwd() if args.repo is None else args.repo
    if not root.is_dir():
        raise DockyardError(f"{root} is not a directory", "pass --repo DIR of a git checkout",
                            field="repo")
    report_dir = reports_dir(args)
    insecure, ca_file = registry_options(args)
    clients = logged_in_clients(insecure, ca_file=ca_file)
    with clients(reference.name) as client:
        promotion = check_promotion(client, reference, args.target, root)
        if not args.yes:
            if args.json:
                write_json(promotion.to_dict())
            else:
                sys.stdout.writelines(line + "\n" for line in promotion.lines())
            raise DockyardError("nothing promoted", "add --yes to promote", field="yes")
        cancel = threading.Event()
        received: list[int] = []
        events = run_promotion(promotion, client, report_dir=report_dir, cancel=cancel)
        with stop_signals_cancel(cancel, received, "promotion"):
            code = print_events(events, as_json=args.json, out=sys.stdout)
    return 128 + received[0] if received else code
