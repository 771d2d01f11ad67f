"""Release versions: strict SemVer 2.0 git tags, their order, and the next version to cut.

A git tag is ``1.2.3`` or ``v1.2.3`` (one lowercase ``v`` only, the common tag-name convention).
Build metadata (``+b5``) is accepted in the tag but ignored for ordering and never reaches an
image tag, because registries refuse ``+``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import semver

from core.errors import VersionError

BUMPS = ("patch", "minor", "major", "pre")
EXAMPLE = "e.g. v1.2.3"

_CORE = re.compile(r"[0-9]+(?:\.[0-9]+)*", re.ASCII)
_IDENTIFIERS = re.compile(r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*", re.ASCII)


@dataclass(frozen=True)
class ReleaseVersion:
    """A version as tagged in git; orders by SemVer precedence, ties broken by the tag name."""

    git_tag: str
    version: semver.Version

    @property
    def prerelease(self) -> bool:
        return self.version.prerelease is not None

    @property
    def text(self) -> str:
        """The version without the ``v`` prefix, build metadata included."""
        return str(self.version)

    @property
    def image_tag(self) -> str:
        """The version as an image tag: registries do not allow ``+``, so no build metadata."""
        return str(self.version.replace(build=None))

    def _key(self) -> tuple[semver.Version, str]:
        return (self.version.replace(build=None), self.git_tag)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self._key() >= other._key()

    def newer_than(self, other: ReleaseVersion) -> bool:
        """True when this version has higher SemVer precedence (tag spelling and build ignored)."""
        return self.version.compare(other.version) > 0


def parse_version(tag: str) -> ReleaseVersion:
    """Parse a git tag as a release version, or say which SemVer rule it breaks and the fix."""
    if not isinstance(tag, str) or not tag:
        raise VersionError(
            "an empty tag is not a valid semantic version",
            f"use MAJOR.MINOR.PATCH, {EXAMPLE}",
        )
    if tag.startswith("V"):
        raise VersionError(
            f"{tag!r} has an uppercase 'V' prefix",
            f"only a lowercase 'v' prefix is allowed: {'v' + tag[1:]!r} or {tag[1:]!r}",
        )
    text = tag[1:] if tag.startswith("v") else tag
    try:
        if not text.isascii():
            raise ValueError(text)
        version = semver.Version.parse(text)
    except (ValueError, TypeError):
        raise VersionError(f"{tag!r} is not a valid semantic version", _hint(text)) from None
    return ReleaseVersion(git_tag=tag, version=version)


def _hint(text: str) -> str:
    """The most specific fix for a string that is not SemVer."""
    head, plus, build = text.partition("+")
    core, dash, pre = head.partition("-")
    if not text.isascii() or any(ch.isspace() for ch in text):
        return f"use ASCII MAJOR.MINOR.PATCH without spaces, {EXAMPLE}"
    if text.startswith("v"):
        return f"use at most one lowercase 'v' prefix, {EXAMPLE}"
    if _CORE.fullmatch(core):
        parts = core.split(".")
        if any(len(p) > 1 and p.startswith("0") for p in parts):
            return f"use MAJOR.MINOR.PATCH without leading zeros, {EXAMPLE}"
        if len(parts) < 3:
            filled = ".".join([*parts, "0", "0"][:3])
            return f"use all three parts MAJOR.MINOR.PATCH, e.g. v{filled}"
        if len(parts) > 3:
            return f"use exactly three parts MAJOR.MINOR.PATCH, {EXAMPLE}"
        if dash and not _IDENTIFIERS.fullmatch(pre):
            return (
                "a prerelease is dot-separated non-empty identifiers of [0-9A-Za-z-], "
                "e.g. v1.2.3-rc.1"
            )
        if dash and any(p.isdigit() and len(p) > 1 and p.startswith("0") for p in pre.split(".")):
            return "numeric prerelease identifiers must not have leading zeros, e.g. v1.2.3-rc.1"
        if plus and not _IDENTIFIERS.fullmatch(build):
            return (
                "build metadata is one '+' then dot-separated non-empty identifiers of "
                "[0-9A-Za-z-], e.g. v1.2.3+build.5"
            )
    return f"use MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], {EXAMPLE} or v1.2.3-rc.1"


def latest_release(
    versions: Iterable[ReleaseVersion], *, include_prereleases: bool = False
) -> ReleaseVersion | None:
    """The highest version, ignoring prereleases unless asked; None when there is none."""
    candidates = [v for v in versions if include_prereleases or not v.prerelease]
    return max(candidates, default=None)


def next_version(
    current: ReleaseVersion | None,
    bump: str,
    *,
    prefix: str = "v",
    pre_token: str = "rc",
) -> ReleaseVersion:
    """The version after ``current``; no current version counts as 0.0.0.

    From a prerelease, ``patch``/``minor``/``major`` finish it when it already is that kind of
    bump (1.3.0-rc.2 -> minor -> 1.3.0), as npm does; ``pre`` counts up (1.2.4-rc.1 -> rc.2).
    From a release, ``pre`` starts the next patch's prerelease (1.2.3 -> 1.2.4-rc.1).
    """
    if bump not in BUMPS:
        raise VersionError(f"{bump!r} is not a known bump", f"use one of: {', '.join(BUMPS)}")
    if prefix not in ("v", ""):
        raise VersionError(f"{prefix!r} is not a supported tag prefix", "use 'v' or no prefix")
    if not re.fullmatch(r"[A-Za-z][0-9A-Za-z-]*", pre_token, re.ASCII):
        raise VersionError(
            f"{pre_token!r} is not a usable prerelease name", "use letters, e.g. rc, beta",
            field="pre-token",
        )
    base = current.version.replace(build=None) if current else semver.Version(0, 0, 0)
    pre = base.prerelease
    if bump == "patch":
        new = base.finalize_version() if pre else base.bump_patch()
    elif bump == "minor":
        new = base.finalize_version() if pre and base.patch == 0 else base.bump_minor()
    elif bump == "major":
        finish = pre and base.minor == 0 and base.patch == 0
        new = base.finalize_version() if finish else base.bump_major()
    else:
        new = _next_prerelease(base, pre_token)
    return ReleaseVersion(git_tag=f"{prefix}{new}", version=new)


def _next_prerelease(base: semver.Version, token: str) -> semver.Version:
    if base.prerelease is None:
        return base.bump_patch().replace(prerelease=f"{token}.1")
    parts = base.prerelease.split(".")
    if parts[0] == token:
        if parts[-1].isdigit() and len(parts) > 1:
            parts[-1] = str(int(parts[-1]) + 1)
        else:
            parts.append("1")
        return base.replace(prerelease=".".join(parts))
    candidate = base.replace(prerelease=f"{token}.1")
    if candidate.compare(base) <= 0:
        raise VersionError(
            f"a {token!r} prerelease of {base.finalize_version()} would sort before {base}",
            f"release {base.finalize_version()} with --next patch, or tag the prerelease by hand",
        )
    return candidate
