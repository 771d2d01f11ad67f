"""What changed between two images of one repository, platform by platform.

Before rolling back or promoting, a user wants to know what the other version is: how much bigger,
which layers, which settings. The two sides are matched by platform (as the index lists it; a
single image is its config's platform), and each pair compared by what a pull downloads (config
plus layers, compressed), by layer digest, and by the config settings a container runs with.

It reads as little as it can: a HEAD per tag, then each manifest once by digest; a platform pair
whose manifests name the same config needs no config read at all. Attestations are never read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.image import PlatformImage, Reads, config_platform, summarize_index
from core.registry import IMAGE_TYPES, INDEX_TYPES

if TYPE_CHECKING:
    from core.reference import ImageName
    from core.registry import RegistryClient


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int  # compressed, as the manifest states it

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class ConfigChange:
    """One setting that differs. ``key`` names the label, variable or port (None for a setting
    that is one value); ``a``/``b`` are the values, None where that side lacks it."""

    field: str  # label, env, entrypoint, cmd, user, port, workdir
    key: str | None
    a: Any
    b: Any

    @property
    def kind(self) -> str:
        return "added" if self.a is None else "removed" if self.b is None else "changed"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "key": self.key, "change": self.kind, "a": self.a,
                "b": self.b}


@dataclass(frozen=True)
class PlatformDiff:
    """One platform present on both sides."""

    platform: str
    a: PlatformImage
    b: PlatformImage
    added: tuple[Layer, ...]  # in B's layer order
    removed: tuple[Layer, ...]  # in A's layer order
    shared: tuple[Layer, ...]
    changes: tuple[ConfigChange, ...]

    @property
    def delta(self) -> int:
        return self.b.size - self.a.size

    @property
    def same(self) -> bool:
        return self.a.digest == self.b.digest or not (
            self.added or self.removed or self.changes or self.delta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "a": {"digest": self.a.digest, "size": self.a.size},
            "b": {"digest": self.b.digest, "size": self.b.size},
            "size_delta": self.delta,
            "layers": {"added": [layer.to_dict() for layer in self.added],
                       "removed": [layer.to_dict() for layer in self.removed],
                       "shared": len(self.shared),
                       "shared_size": sum(layer.size for layer in self.shared)},
            "config": [change.to_dict() for change in self.changes],
        }


@dataclass(frozen=True)
class Side:
    """What one reference named: the image digest and its platforms' manifest digests."""

    ref: str  # the tag or digest as asked
    digest: str
    media_type: str
    platforms: Mapping[str, str]  # platform -> manifest digest, in the image's order


@dataclass(frozen=True)
class Alone:
    """A platform only one side has."""

    platform: str
    image: PlatformImage

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "digest": self.image.digest, "size": self.image.size}


@dataclass(frozen=True)
class ImageDiff:
    image: str
    a: Side
    b: Side
    platforms: tuple[PlatformDiff, ...]  # on both sides, in A's order
    only_a: tuple[Alone, ...]
    only_b: tuple[Alone, ...]
    problems: tuple[str, ...] = ()
    requests: Mapping[str, int] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """Nothing a pull would notice differs (the digests may still differ)."""
        return (not self.only_a and not self.only_b and not self.problems
                and all(p.same for p in self.platforms))

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "a": {"ref": self.a.ref, "digest": self.a.digest, "media_type": self.a.media_type},
            "b": {"ref": self.b.ref, "digest": self.b.digest, "media_type": self.b.media_type},
            "identical": self.identical,
            "platforms": [p.to_dict() for p in self.platforms],
            "only_in_a": [alone.to_dict() for alone in self.only_a],
            "only_in_b": [alone.to_dict() for alone in self.only_b],
            "problems": list(self.problems),
            "requests": dict(self.requests),
        }


def _is_digest(ref: str) -> bool:
    return ":" in ref  # a tag never holds one; "sha256:..." always does


def diff_images(client: RegistryClient, name: ImageName, a: str, b: str) -> ImageDiff:
    """Compare tag or digest ``a`` with ``b`` in ``name``'s repository (``client`` reads it).
    A reference the repository does not hold is an error naming it."""
    reads = Reads(client, name.path)
    problems: list[str] = []
    side_a = _side(reads, name, a, "A", problems)
    side_b = _side(reads, name, b, "B", problems)
    both = [p for p in side_a.platforms if p in side_b.platforms]
    pairs = []
    for platform in both:
        one = _platform(reads, side_a.platforms[platform], f"A {platform}", problems)
        two = _platform(reads, side_b.platforms[platform], f"B {platform}", problems)
        if one is not None and two is not None:
            pairs.append(_compare(reads, platform, one, two))
    only = [tuple(Alone(p, image) for p in side.platforms if p not in other.platforms
                  if (image := _platform(reads, side.platforms[p], f"{label} {p}", problems)))
            for side, other, label in ((side_a, side_b, "A"), (side_b, side_a, "B"))]
    return ImageDiff(str(name), side_a, side_b, tuple(pairs), only[0], only[1],
                     tuple(problems), dict(reads.count))


def _side(reads: Reads, name: ImageName, ref: str, label: str, problems: list[str]) -> Side:
    digest = ref if _is_digest(ref) else reads.head(ref)
    manifest = reads.manifest(digest) if digest else None
    if digest is None or manifest is None:
        shown = f"{name}@{ref}" if _is_digest(ref) else f"{name}:{ref}"
        raise DockyardError(f"{shown} does not exist",
                            "give a tag or digest the repository holds (dockyard history "
                            "lists its versions)", field="image")
    platforms: dict[str, str] = {}
    if manifest.media_type in INDEX_TYPES:
        summary = summarize_index(manifest.json)
        problems += [f"{label}: {problem}" for problem in summary.problems]
        platforms = {str(entry.platform): entry.digest for entry in summary.entries}
    elif manifest.media_type in IMAGE_TYPES:
        config_digest = (manifest.json.get("config") or {}).get("digest")
        declared = config_platform(reads.config(config_digest)) if isinstance(
            config_digest, str) else None
        platforms = {str(declared) if declared else "unknown": digest}
    else:
        problems.append(f"{label}: not an image ({manifest.media_type or 'no media type'})")
    return Side(ref, digest, manifest.media_type, platforms)


def _platform(reads: Reads, digest: str, label: str, problems: list[str]) -> PlatformImage | None:
    """The platform's manifest (no config: a size and layers need none)."""
    manifest = reads.manifest(digest)
    if manifest is None:
        problems.append(f"{label} entry points at a missing manifest")
        return None
    return PlatformImage(digest, manifest.media_type, manifest.json, {})


def _compare(reads: Reads, platform: str, a: PlatformImage, b: PlatformImage) -> PlatformDiff:
    layers_a, layers_b = _layers(a), _layers(b)
    left = Counter(layer.digest for layer in layers_a)
    right = Counter(layer.digest for layer in layers_b)
    removed, shared = _split(layers_a, right)
    added, _ = _split(layers_b, left)
    config_a, config_b = _config_digest(a), _config_digest(b)
    changes: tuple[ConfigChange, ...] = ()
    if config_a != config_b:  # the same config digest is the same settings: nothing to read
        changes = config_changes(_settings(reads, config_a), _settings(reads, config_b))
    return PlatformDiff(platform, a, b, added, removed, shared, changes)


def _layers(image: PlatformImage) -> list[Layer]:
    return [Layer(str(layer.get("digest", "")), int(layer.get("size", 0)))
            for layer in image.manifest.get("layers") or ()]


def _split(layers: list[Layer], other: Counter[str]) -> tuple[tuple[Layer, ...],
                                                               tuple[Layer, ...]]:
    """(the layers ``other`` lacks, those it has), counting a layer listed twice twice."""
    left = Counter(other)
    missing, shared = [], []
    for layer in layers:
        if left[layer.digest]:
            left[layer.digest] -= 1
            shared.append(layer)
        else:
            missing.append(layer)
    return tuple(missing), tuple(shared)


def _config_digest(image: PlatformImage) -> str | None:
    digest = (image.manifest.get("config") or {}).get("digest")
    return digest if isinstance(digest, str) else None


def _settings(reads: Reads, digest: str | None) -> Mapping[str, Any]:
    if digest is None:
        return {}
    settings = reads.config(digest).get("config")
    return settings if isinstance(settings, dict) else {}


def config_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[ConfigChange, ...]:
    """The run settings (an image config's ``config`` object) that differ, in a fixed order:
    labels and env per key, exposed ports one by one, the rest as whole values."""
    changes: list[ConfigChange] = []
    changes += _keyed("label", _mapping(a.get("Labels")), _mapping(b.get("Labels")))
    for name, key in (("entrypoint", "Entrypoint"), ("cmd", "Cmd")):
        if _value(a.get(key)) != _value(b.get(key)):
            changes.append(ConfigChange(name, None, _value(a.get(key)), _value(b.get(key))))
    changes += _keyed("env", _env(a.get("Env")), _env(b.get("Env")))
    for name, key in (("user", "User"), ("workdir", "WorkingDir")):
        if _value(a.get(key)) != _value(b.get(key)):
            changes.append(ConfigChange(name, None, _value(a.get(key)), _value(b.get(key))))
    ports_a, ports_b = _mapping(a.get("ExposedPorts")), _mapping(b.get("ExposedPorts"))
    changes += [ConfigChange("port", port, port if port in ports_a else None,
                             port if port in ports_b else None)
                for port in sorted(set(ports_a) ^ set(ports_b))]
    return tuple(changes)


def _keyed(kind: str, a: Mapping[str, str], b: Mapping[str, str]) -> list[ConfigChange]:
    return [ConfigChange(kind, key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)]


def _mapping(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _env(value: object) -> dict[str, str]:
    """``["PATH=/bin", "A=1"]`` -> {"PATH": "/bin", "A": "1"}; the last of a repeated name wins,
    as it does in the container."""
    pairs = (str(item).partition("=") for item in value) if isinstance(value, list) else ()
    return {name: text for name, _, text in pairs}


def _value(value: object) -> Any:
    """An empty setting is no setting: ``""``, ``[]`` and null all mean the default."""
    return value if value not in (None, "", []) else None


def diff_lines(diff: ImageDiff) -> list[str]:
    """The diff for a terminal: per platform a header with sizes and delta, then ``+``/``-``/
    ``~`` lines. The first character of each line says what it is, for colouring."""
    # kept off the import path: core.rendering loads the engines
    from core.rendering import human_size

    lines = [f"{diff.image}  {diff.a.ref} -> {diff.b.ref}",
             f"  A {diff.a.ref}  {diff.a.digest}", f"  B {diff.b.ref}  {diff.b.digest}"]
    for pair in diff.platforms:
        sign = "+" if pair.delta > 0 else "-" if pair.delta < 0 else "±"
        lines.append(f"{pair.platform}  {human_size(pair.a.size)} -> {human_size(pair.b.size)}"
                     f"  ({sign}{human_size(abs(pair.delta))})")
        if pair.a.digest == pair.b.digest:
            lines.append("  = same image")
            continue
        lines += [f"  + layer {layer.digest}  {human_size(layer.size)}" for layer in pair.added]
        lines += [f"  - layer {layer.digest}  {human_size(layer.size)}" for layer in pair.removed]
        if pair.shared:
            lines.append(f"  = {len(pair.shared)} layer(s) shared, "
                         f"{human_size(sum(layer.size for layer in pair.shared))}")
        lines += [_change_line(change) for change in pair.changes]
        if not pair.changes:
            lines.append("  = same settings")
    for label, alone in (("A", diff.only_a), ("B", diff.only_b)):
        lines += [f"only in {label}: {one.platform}  {human_size(one.image.size)}  "
                  f"{one.image.digest}" for one in alone]
    lines += [f"! {problem}" for problem in diff.problems]
    if diff.identical:
        lines.append("no changes" + ("" if diff.a.digest == diff.b.digest
                                     else " (the images differ only in metadata)"))
    return lines


def _change_line(change: ConfigChange) -> str:
    what = change.field if change.key is None else f"{change.field} {change.key}"
    if change.field == "port":
        return f"  {'+' if change.kind == 'added' else '-'} port {change.key}"
    if change.kind == "added":
        return f"  + {what}: {json.dumps(change.b)}"
    if change.kind == "removed":
        return f"  - {what}: {json.dumps(change.a)}"
    return f"  ~ {what}: {json.dumps(change.a)} -> {json.dumps(change.b)}"
