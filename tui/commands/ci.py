"""``dockyard ci github``: write the GitHub Actions workflow of a split release from
dockyard.toml (a native runner per platform builds a part, one job merges them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import DockyardError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ci",
        help="write a CI workflow that builds each platform on its own runner, then merges",
        description="Write .github/workflows/release.yml from dockyard.toml: on a version tag, "
        "one job per platform on a native runner ([ci.runners]) runs `dockyard release --part`, "
        "then one job runs `dockyard release --merge` on the uploaded part files.",
    )
    parser.add_argument("provider", choices=("github",), help="the CI service")
    parser.add_argument("--repo", type=Path, default=Path("."), help="project git checkout")
    parser.add_argument("--force", action="store_true", help="replace an existing workflow")
    parser.add_argument("--stdout", action="store_true", help="print it, write nothing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path: loads semver
    from core.ci import WORKFLOW_PATH, CiError, github_workflow
    from core.config import load_config
    from core.platforms import parse_platforms
    from core.reference import parse_image_name

    if not args.repo.is_dir():
        raise DockyardError(f"{args.repo} is not a directory", "pass --repo DIR of a checkout",
                            field="repo")
    config = load_config(args.repo)
    text = github_workflow([parse_image_name(i) for i in config.images],
                           parse_platforms(config.platforms), config.mode or "build", config.ci)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    target = args.repo / WORKFLOW_PATH
    if target.exists() and not args.force:
        raise CiError(f"{WORKFLOW_PATH} exists already", "pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}; commit it, then push a version tag to release")
    return 0
