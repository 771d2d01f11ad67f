"""``dockyard tag VERSION`` or ``dockyard tag --next patch|minor|major|pre``: cut a version tag
at HEAD, headless.

VERSION is any valid version newer than the releases of its MAJOR.MINOR series (the release
rule), so the hint printed for a missing tag can name the exact tag the user meant.

The next version follows the newest version tag in the repo, prereleases included (1.2.4-rc.1
-> pre -> 1.2.4-rc.2, -> patch -> 1.2.4), and keeps its ``v`` prefix convention; a repo without
version tags starts from 0.0.0 with a ``v`` prefix (patch 0.0.1, minor 0.1.0, major 1.0.0,
pre 0.0.1-rc.1). The tag name goes to stdout, notes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import RepoError, VersionError

if TYPE_CHECKING:
    from core.repo import ProjectRepo
    from core.version import ReleaseVersion

BUMPS = ("patch", "minor", "major", "pre")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tag",
        help="cut a version tag (annotated) at HEAD: VERSION or the --next one",
        description="Cut VERSION, or the next version after the newest version tag, as an "
        "annotated tag at HEAD (the working tree must be clean) and print it.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("version", nargs="?", metavar="VERSION",
                       help="the version to tag, e.g. v1.3.0 or v2.0.0-rc.1")
    which.add_argument(
        "--next",
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
    # kept off dockyard --help's path: loads semver
    from core.repo import ProjectRepo, refuse_second_release
    from core.version import latest_release

    repo = ProjectRepo.open(args.repo)
    known = repo.version_tags()
    current = latest_release(known, include_prereleases=True)
    new = _chosen(repo, args) if args.version is not None else _next(current, args)
    refuse_second_release(repo.tags_at_head(), new)
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


def _next(current: ReleaseVersion | None, args: argparse.Namespace) -> ReleaseVersion:
    # kept off dockyard --help's path: loads semver
    from core.version import next_version

    prefix = "v" if current is None or current.git_tag.startswith("v") else ""
    return next_version(current, args.bump, prefix=prefix, pre_token=args.pre_token)


def _chosen(repo: ProjectRepo, args: argparse.Namespace) -> ReleaseVersion:
    """VERSION checked by the same rules a release checks: SemVer, new, newer in its series."""
    # kept off dockyard --help's path: loads semver
    from core.version import parse_version

    new = parse_version(args.version)
    if repo.tag_commit(new.git_tag) is not None:
        raise VersionError(f"tag {new.git_tag!r} already exists", "choose another version")
    for rule in repo.check_release(new.git_tag):
        if rule.rule == "newer" and not rule.ok:
            raise VersionError(rule.message, rule.fix)
    return new
