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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.errors import TagPolicyError
from core.version import ReleaseVersion

#: The registry's tag grammar (distribution's ``[\w][\w.-]{0,127}``, ASCII only); the image
#: reference grammar in core/reference.py embeds this same pattern.
TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_TAG = re.compile(TAG_PATTERN, re.ASCII)
_COMMIT = re.compile(r"[0-9a-f]{7,64}", re.ASCII)
_SHA_TAG = re.compile(r"sha-[0-9a-f]{7,64}", re.ASCII)


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
    wanted = [f"{major}.{minor}"] if policy.minor else []
    wanted += [f"{major}"] if policy.major else []
    wanted += ["latest"] if policy.latest else []
    wanted += list(policy.extra)
    moving = [(alias, series_of(alias, version)) for alias in wanted]

    releases = [k for k in known if not k.prerelease]
    aliases: list[str] = []
    withheld: list[tuple[str, str]] = []
    for alias, in_series in moving:
        newer = [k for k in releases if in_series is not None and in_series(k)
                 and k.newer_than(version)]
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


Series = Callable[[ReleaseVersion], bool]


def series_of(alias: str, version: ReleaseVersion) -> Series | None:
    """Which releases compete with ``version`` for ``alias``: ``X.Y`` its minor series, ``X`` its
    major series, any other moving tag (``latest``, extra tags) every release. None for tags that
    name this release alone (the version, its git tag, ``sha-...``)."""
    major, minor = version.version.major, version.version.minor
    if alias == f"{major}.{minor}":
        return lambda k: k.version.major == major and k.version.minor == minor
    if alias == f"{major}":
        return lambda k: k.version.major == major
    if alias in (version.image_tag, version.git_tag) or _SHA_TAG.fullmatch(alias):
        return None
    return lambda k: True


def hold_back(
    tags: TagSet,
    version: ReleaseVersion,
    published: Sequence[ReleaseVersion],
    pointed: Mapping[str, ReleaseVersion | None] | None = None,
) -> TagSet:
    """``tags`` less the moving aliases a newer *published* release holds (never backwards).

    ``published`` are the release versions the registry holds (version tags); ``pointed`` the
    version of the image each alias points at now, where one was found. Prereleases neither
    take nor block a moving alias.
    """
    pointed = pointed or {}
    keep: list[str] = []
    held = list(tags.withheld)
    for alias in tags.aliases:
        in_series = series_of(alias, version)
        if in_series is None:
            keep.append(alias)
            continue
        rivals = [k for k in published if not k.prerelease and in_series(k)]
        current = pointed.get(alias)
        if current is not None and not current.prerelease:
            rivals.append(current)  # whatever the alias holds counts, in its series or not
        newer = [k for k in rivals if k.newer_than(version)]
        if newer:
            held.append((alias, f"{max(newer).image_tag} is published"))
        else:
            keep.append(alias)
    return TagSet(tags.version_tag, tuple(keep), tuple(dict.fromkeys(held)))
