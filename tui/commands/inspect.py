"""``dockyard inspect IMAGE[:TAG]``: what is published, read straight from the registry API."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.sizes import human_size
from tui.commands import add_registry_options, registry_options, write_json

if TYPE_CHECKING:
    from core.reference import ImageName
    from core.registry import RegistryClient

DEFAULT_RESOLVE = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a published image: digest, platforms, attestations (or its tags)",
        description="Show what a registry holds for IMAGE:TAG (or IMAGE@DIGEST): digest, media "
        "type, platforms with their manifest digests, and attestation entries. Without a tag, "
        "list the repository's tags and the digests of the first --resolve of them.",
    )
    parser.add_argument("image", metavar="IMAGE[:TAG]", help="e.g. ghcr.io/acme/app:1.2.3")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_registry_options(parser)
    parser.add_argument("--resolve", type=int, default=DEFAULT_RESOLVE, metavar="N",
                        help=f"without a tag: HEAD at most N tags for their digests "
                        f"(default {DEFAULT_RESOLVE}, 0 for none)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path
    from core.clients import logged_in_clients
    from core.reference import parse_reference

    if args.resolve < 0:
        raise DockyardError(f"--resolve {args.resolve} is negative", "use 0 or more",
                            field="inspect")
    reference = parse_reference(args.image)
    insecure, ca_file = registry_options(args)
    clients = logged_in_clients(insecure, ca_file=ca_file)
    with clients(reference.name) as client:
        ref = reference.digest or reference.tag
        if ref is None:
            data = _tags(client, reference.name, args.resolve)
        else:
            data = _describe(client, reference.name, ref)
        if client.rate_limit is not None:  # Docker Hub states its pull allowance
            data["rate_limit"] = client.rate_limit.to_dict()
    if args.json:
        write_json(data)
    else:
        sys.stdout.write(_text(data))
    return 0


def _describe(client: RegistryClient, name: ImageName, ref: str) -> dict[str, Any]:
    # kept off dockyard --help's path: loads httpcore, httpx, semver
    from core.inspect import inspect_tag

    shown = f"{name}@{ref}" if ref.startswith("sha256:") else name.with_tag(ref)
    return {"image": shown, **inspect_tag(client, name.path, ref).to_dict()}


def _tags(client: RegistryClient, name: ImageName, resolve: int) -> dict[str, Any]:
    tags = sorted(client.list_tags(name.path), key=_natural)
    rows: list[dict[str, Any]] = []
    for position, tag in enumerate(tags):
        row: dict[str, Any] = {"tag": tag, "digest": None, "media_type": None}
        if position < resolve:
            head = client.head_manifest(name.path, tag)
            if head is not None:
                row.update(digest=head.digest, media_type=head.media_type)
        rows.append(row)
    return {"image": str(name), "tags": rows, "unresolved": max(len(tags) - resolve, 0)}


def _natural(tag: str) -> list[tuple[int, int | str]]:
    """1.10 after 1.9: numbers compare as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", tag) if part]


def _text(data: dict[str, Any]) -> str:
    # kept off dockyard --help's path: loads semver
    from core.registry import RateLimit

    rate = data.get("rate_limit")
    lines = [data["image"]]
    if rate is not None:
        allowance = RateLimit(rate["limit"], rate["remaining"], rate["window_seconds"])
        lines.append(f"  rate limit    {allowance.describe()}")
    if "tags" in data:
        width = max((len(row["tag"]) for row in data["tags"]), default=0)
        lines += [f"  {row['tag']:<{width}}  {row['digest'] or '-'}" for row in data["tags"]]
        if not data["tags"]:
            lines.append("  (no tags)")
        if data["unresolved"]:
            lines.append(f"  ({data['unresolved']} tags not resolved; raise --resolve)")
        return "\n".join(lines) + "\n"
    lines += [f"  digest        {data['digest']}", f"  media type    {data['media_type']}",
              f"  size          {human_size(data['size'])} (compressed, all platforms)",
              f"  created       {data['created'] or '-'}",
              f"  platforms     {len(data['platforms'])}"]
    width = max((len(p["platform"]) for p in data["platforms"]), default=0)
    lines += [f"    {p['platform']:<{width}}  {p['digest']}  {human_size(p['size'])}"
              for p in data["platforms"]]
    lines.append(f"  attestations  {len(data['attestations'])}")
    lines += [f"    {a['digest']}  {a['kind']} for {a['refers_to'] or '-'}"
              for a in data["attestations"]]
    lines += [f"  problem: {problem}" for problem in data["problems"]]
    return "\n".join(lines) + "\n"
