"""Which image tags a release earns, and the never-backwards rule for moving aliases.

The version tag (``1.2.3``) is immutable and always pushed first. Aliases are ``X.Y``, ``X``,
``latest``, the git tag as written (``v1.2.3``), ``sha-<7 hex>`` and fixed extra tags.
``X.Y``, ``X``, ``latest`` and the extra tags move between releases, so each goes to a version
only when no known release in its series is newer: releasing 1.3.9 after 1.4.0 earns ``1.3.9``
and ``1.3``, never ``1`` or ``latest``. ``v1.2.3`` and ``sha-...`` name this release alone.
A prerelease earns only its own version (plus its git tag and sha tag when enabled).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import TagPolicyError
from core.version import ReleaseVersion

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_COMMIT = re.compile(r"[0-9a-f]{7,64}", re.ASCII)


def validate_tag(tag: str) -> str:
    """Return ``tag`` when the registry tag grammar allows it, else raise TagPolicyError."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise TagPolicyError(
            f"{tag!r} is not a valid image tag",
            "use 1 to 128 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        )
    return tag


@dataclass(frozen=True)
class TagPolicy:
    """Which aliases to publish besides the version tag."""

    version: bool = True
    minor: bool = True
    major: bool = True
    latest: bool = True
    git_tag: bool = False
    sha: bool = False
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.version:
            raise TagPolicyError(
                "the version tag cannot be turned off",
                "dockyard pushes X.Y.Z first and points every alias at it; keep version = true",
            )
        if not isinstance(self.extra, tuple):
            raise TagPolicyError("extra tags must be a tuple of strings", "e.g. ('stable',)")
        for tag in self.extra:
            validate_tag(tag)


@dataclass(frozen=True)
class TagSet:
    """The tags one image gets: the immutable version tag, then aliases moved in phase 2."""

    version_tag: str
    aliases: tuple[str, ...]
    withheld: tuple[tuple[str, str], ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (self.version_tag, *self.aliases)


def compute_tags(
    version: ReleaseVersion,
    known: Sequence[ReleaseVersion],
    policy: TagPolicy,
    commit: str,
) -> TagSet:
    """The tags ``version`` earns among ``known`` (the repo's versions) under ``policy``."""
    version_tag = validate_tag(version.image_tag)
    major, minor = version.version.major, version.version.minor
    moving: list[tuple[str, Callable[[ReleaseVersion], bool]]] = []
    if policy.minor:
        moving.append(
            (f"{major}.{minor}", lambda k: k.version.major == major and k.version.minor == minor)
        )
    if policy.major:
        moving.append((f"{major}", lambda k: k.version.major == major))
    if policy.latest:
        moving.append(("latest", lambda k: True))
    moving.extend((tag, lambda k: True) for tag in policy.extra)

    releases = [k for k in known if not k.prerelease]
    aliases: list[str] = []
    withheld: list[tuple[str, str]] = []
    for alias, in_series in moving:
        newer = [k for k in releases if in_series(k) and k.newer_than(version)]
        if version.prerelease:
            withheld.append((alias, f"{version.image_tag} is a prerelease"))
        elif newer:
            withheld.append((alias, f"{max(newer).image_tag} is newer"))
        else:
            aliases.append(alias)
    if policy.git_tag:
        if "+" in version.git_tag:
            withheld.append((version.git_tag, "image tags cannot hold '+' build metadata"))
        else:
            aliases.append(version.git_tag)
    if policy.sha:
        if not _COMMIT.fullmatch(commit):
            raise TagPolicyError(
                f"{commit!r} is not a commit id", "pass the full lowercase hex commit of HEAD"
            )
        aliases.append(f"sha-{commit[:7]}")

    unique = [validate_tag(a) for a in dict.fromkeys(aliases) if a != version_tag]
    given = {version_tag, *unique}
    held = [w for w in dict.fromkeys(withheld) if w[0] not in given]
    return TagSet(version_tag=version_tag, aliases=tuple(unique), withheld=tuple(held))
