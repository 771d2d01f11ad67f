"""``dockyard rollback IMAGE --to VERSION``: point aliases back (or forward) at a published
version, verified first; without ``--yes`` it shows what would move and moves nothing."""

from __future__ import annotations

import argparse
import sys
import threading
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
    from core.rollback import RollbackPlan, RollbackResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="point an image's aliases at a published version (roll back or forward)",
        description="Verify IMAGE:VERSION against its own index, then move the aliases it owns "
        "(X.Y, X, latest), or those given with --alias, to its exact digest. Nothing is "
        "rebuilt or deleted: newer versions stay published. Without --yes, prints what would "
        "move and moves nothing.",
    )
    parser.add_argument("image", metavar="IMAGE", help="e.g. ghcr.io/acme/app (no tag)")
    parser.add_argument("--to", required=True, metavar="VERSION",
                        help="the version tag the aliases go to, e.g. 1.2.0")
    parser.add_argument("--alias", action="append", metavar="A[,A...]",
                        help="move only these aliases (repeatable; default: the version's "
                        "X.Y, X and latest)")
    parser.add_argument("--yes", action="store_true", help="move the aliases without asking")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_reports_option(parser, writes=True)
    add_registry_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads httpx, keyring, semver
    from core.clients import logged_in_clients
    from core.reference import parse_reference
    from core.rollback import plan_rollback, run_rollback
    from tui.headless import stop_signals_cancel

    reference = parse_reference(args.image)
    if reference.tag is not None or reference.digest is not None:
        raise DockyardError(f"{args.image!r} names a tag or digest",
                            "give the repository alone and the version with --to, e.g. "
                            "ghcr.io/acme/app --to 1.2.0", field="image")
    aliases = _aliases(args.alias)
    report_dir = reports_dir(args)
    insecure, ca_file = registry_options(args)
    clients = logged_in_clients(insecure, ca_file=ca_file)
    with clients(reference.name) as client:
        plan = plan_rollback(client, reference.name, args.to, aliases)
        if plan.nothing_to_do or not args.yes:
            _show_plan(plan, args.json)
            if plan.nothing_to_do or args.yes:
                return 0
            raise DockyardError(f"nothing moved: {len(plan.pending)} alias(es) would move",
                                "add --yes to move them", field="yes")
        cancel = threading.Event()
        received: list[int] = []
        with stop_signals_cancel(cancel, received, "rollback"):  # between moves, reported
            result = run_rollback(plan, client, report_dir=report_dir, cancel=cancel)
    _show_result(result, args.json)
    return 128 + received[0] if received else 0 if result.ok else 1


def _aliases(given: list[str] | None) -> list[str] | None:
    """``--alias a,b --alias c`` as one list; None when not given (the version's own)."""
    if given is None:
        return None
    aliases = [alias.strip() for item in given for alias in item.split(",")]
    if not all(aliases):
        raise DockyardError("an empty alias in --alias", "e.g. --alias latest,1.2",
                            field="alias")
    return aliases


def _show_plan(plan: RollbackPlan, as_json: bool) -> None:
    if as_json:
        write_json({**plan.to_dict(), "nothing_to_do": plan.nothing_to_do})
        return
    head = (f"nothing to do: every alias is on {plan.version.image_tag}" if plan.nothing_to_do
            else f"rollback of {plan.name} to {plan.version.image_tag} ({plan.digest}), "
                 f"verified: {', '.join(plan.platforms)}")
    sys.stdout.write("\n".join([head, *(f"  {line}" for line in plan.lines())]) + "\n")


def _show_result(result: RollbackResult, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
    else:
        plan = result.plan
        moved = [f"  moved {plan.name}:{move.alias} {move.previous or 'absent'} -> {plan.digest}"
                 for move in plan.moves if move.alias in result.moved]
        sys.stdout.write("\n".join([*moved, f"report: {result.report}"]) + "\n")
    if result.error:
        sys.stderr.write(f"error: {result.error}\n")
