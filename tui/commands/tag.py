"""``dockyard tag --next patch|minor|major|pre``: cut the next version tag at HEAD, headless.

The next version follows the newest version tag in the repo, prereleases included (1.2.4-rc.1
-> pre -> 1.2.4-rc.2, -> patch -> 1.2.4), and keeps its ``v`` prefix convention; a repo without
version tags starts from 0.0.0 with a ``v`` prefix (patch 0.0.1, minor 0.1.0, major 1.0.0,
pre 0.0.1-rc.1). The tag name goes to stdout, notes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

BUMPS = ("patch", "minor", "major", "pre")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tag",
        help="cut the next version tag (annotated) at HEAD",
        description="Propose the next version after the newest version tag, cut it as an "
        "annotated tag at HEAD (the working tree must be clean) and print it.",
    )
    parser.add_argument(
        "--next",
        required=True,
        choices=BUMPS,
        dest="bump",
        help="which part to bump; pre makes or counts up an -rc.N prerelease",
    )
    parser.add_argument("--pre-token", default="rc", metavar="NAME",
                        help="prerelease name for --next pre (default rc), e.g. beta")
    parser.add_argument("--repo", type=Path, default=Path("."), help="project git checkout")
    parser.add_argument("--push", action="store_true", help="push the new tag to the remote")
    parser.add_argument("--dry-run", action="store_true", help="print the tag, change nothing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import RepoError
    from core.repo import ProjectRepo
    from core.version import latest_release, next_version

    repo = ProjectRepo.open(args.repo)
    known = repo.version_tags()
    released_here = [
        v.git_tag for v in known if not v.prerelease and v.git_tag in repo.tags_at_head()
    ]
    if released_here:
        raise RepoError(
            f"HEAD is already released as {', '.join(released_here)}",
            "commit the next change first, then tag it",
        )
    current = latest_release(known, include_prereleases=True)
    prefix = "v" if current is None or current.git_tag.startswith("v") else ""
    new = next_version(current, args.bump, prefix=prefix, pre_token=args.pre_token)
    remote = repo.remote_name()
    if args.push and remote is None:
        raise RepoError(
            "--push needs a remote, and this repository has none",
            "add one with git remote add origin URL, or drop --push",
        )
    dirty = repo.dirty_paths()
    if dirty:
        raise RepoError(
            f"cannot tag {new.git_tag}: the working tree has uncommitted changes: "
            f"{', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}",
            "commit or stash them first",
        )
    after = f" after {current.git_tag}" if current else " (no version tags yet)"
    where = f"at {repo.short_commit()}"
    if args.dry_run:
        pushing = f", then push it to {remote}" if args.push else ""
        sys.stderr.write(f"dry run: would tag {new.git_tag} {where}{after}{pushing}\n")
    else:
        repo.cut_tag(new)
        sys.stderr.write(f"tagged {new.git_tag} {where}{after}\n")
        if args.push:
            try:
                repo.push_tag(new.git_tag, remote)
            except RepoError as err:
                raise RepoError(
                    f"{new.git_tag} was tagged locally, but {err.problem}",
                    f"{err.valid}; then push it: git push {remote} {new.git_tag}",
                ) from None
            sys.stderr.write(f"pushed {new.git_tag} to {remote}\n")
    sys.stdout.write(f"{new.git_tag}\n")
    return 0
