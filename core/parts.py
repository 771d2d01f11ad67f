"""A release split by platform: each machine builds its own platforms natively and pushes them
by digest with no tag (a *part*, described by a part file); the merge checks the parts agree,
assembles one index through the registry API and then publishes it as any release does.

The merged index is a pure function of the parts (entries in plan order, each attestation right
after its image, one serialisation), so merging the same parts again gives the same digest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.image import summarize_index
from core.platforms import Platform, normalize_platform, parse_platform
from core.publish import PUT_STEP, alias_step, tag_step
from core.registry import IMAGE_TYPES, INDEX_TYPES, OCI_INDEX, Manifest, sha256_digest

if TYPE_CHECKING:
    from core.plan import Plan
    from core.registry import RegistryClient

SCHEMA = 1
KIND = "dockyard-part"
_MAX_PART_BYTES = 1024 * 1024


class PartError(DockyardError):
    field = "part"


@dataclass(frozen=True)
class PartImage:
    """One image of a part: pushed by digest; ``media_type`` says whether it is an index
    (buildx with provenance: one image plus its attestation) or a single image manifest."""

    name: str
    digest: str
    media_type: str


@dataclass(frozen=True)
class Part:
    version: str
    git_tag: str
    revision: str
    platforms: tuple[Platform, ...]
    images: tuple[PartImage, ...]
    engine: str
    builder: str | None = None
    source: str = ""  # the file it was read from, for error messages

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND, "schema": SCHEMA, "version": self.version, "git_tag": self.git_tag,
            "revision": self.revision, "platforms": [str(p) for p in self.platforms],
            "images": [{"name": i.name, "digest": i.digest, "media_type": i.media_type}
                       for i in self.images],
            "engine": self.engine, "builder": self.builder,
        }

    def digest_for(self, image: str) -> PartImage:
        for item in self.images:
            if item.name == image:
                return item
        raise PartError(f"{self.source}: has no image {image}", "build the part for every image")


def default_part_path(platforms: Sequence[Platform], directory: Path) -> Path:
    """``dockyard-part-linux-arm64.json`` (several platforms joined with ``_``)."""
    names = "_".join(str(p).replace("/", "-") for p in platforms)
    return directory / f"dockyard-part-{names}.json"


def write_part(part: Part, path: Path) -> Path:
    """Write the part file atomically; an existing file is replaced (a re-run of the leg)."""
    text = json.dumps(part.to_json(), indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".dockyard-part-", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as err:
        raise PartError(f"cannot write {path}: {err.strerror or err}",
                        "pass --part-file PATH in a writable directory") from None
    return path


def read_part(path: Path) -> Part:
    """Read and check one part file; a one-line PartError names the file and the problem."""
    where = str(path)
    try:
        if not path.is_file():
            raise PartError(f"{where} is not a file", "give the part files the legs wrote")
        if path.stat().st_size > _MAX_PART_BYTES:
            raise PartError(f"{where} is too large for a part file", "give a dockyard part file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise PartError(f"{where} is not readable JSON ({type(err).__name__})",
                        "give the part files the legs wrote") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise PartError(f"{where} is not a dockyard part file",
                        "give the part files the legs wrote")
    if data.get("schema") != SCHEMA:
        raise PartError(f"{where} has schema {data.get('schema')!r}",
                        f"this dockyard reads schema {SCHEMA}; use the same dockyard for all legs")
    try:
        images = tuple(PartImage(_text(i, "name"), _digest(i), _text(i, "media_type"))
                       for i in data["images"])
        platforms = tuple(parse_platform(_text_value(p)) for p in data["platforms"])
        builder = data.get("builder")
        part = Part(
            version=_text(data, "version"), git_tag=_text(data, "git_tag"),
            revision=_text(data, "revision"), platforms=platforms, images=images,
            engine=_text(data, "engine"), builder=builder if isinstance(builder, str) else None,
            source=where,
        )
    except (KeyError, TypeError, ValueError, DockyardError) as err:
        raise PartError(f"{where} is incomplete or malformed ({err})",
                        "give the part files the legs wrote") from None
    if not images or not platforms:
        raise PartError(f"{where} names no image or no platform", "build the part again")
    return part


def _text_value(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not text")
    return value


def _text(data: dict[str, Any], key: str) -> str:
    return _text_value(data[key])


def _digest(item: dict[str, Any]) -> str:
    digest = _text(item, "digest")
    algorithm, _, hexa = digest.partition(":")
    if algorithm != "sha256" or len(hexa) != 64 or not all(c in "0123456789abcdef" for c in hexa):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    return digest


def check_parts(parts: Sequence[Part], plan: Plan) -> None:
    """The parts belong together and to ``plan``: one version, one revision, the plan's images,
    every planned platform exactly once. Raises PartError naming the part."""
    if not parts:
        raise PartError("no part given", "pass --merge PART... with the files the legs wrote")
    planned = list(plan.platforms)
    seen: dict[Platform, str] = {}
    names = {str(image.name) for image in plan.images}
    for part in parts:
        if part.version != plan.version.text:
            raise PartError(f"{part.source} is version {part.version}, not {plan.version.text}",
                            "merge parts built from the same release tag")
        if part.revision != plan.commit:
            raise PartError(f"{part.source} was built from {part.revision[:12]}, not "
                            f"{plan.commit[:12]}", "merge parts built from the same commit")
        if {image.name for image in part.images} != names:
            raise PartError(f"{part.source} has images {', '.join(i.name for i in part.images)}",
                            f"every part must push {', '.join(sorted(names))}")
        for platform in part.platforms:
            if platform not in planned:
                raise PartError(f"{part.source} builds {platform}, which is not planned",
                                f"the plan has {', '.join(str(p) for p in planned)}")
            if platform in seen:
                raise PartError(f"{platform} is in {seen[platform]} and in {part.source}",
                                "give each platform in exactly one part")
            seen[platform] = part.source
    missing = [str(p) for p in planned if p not in seen]
    if missing:
        raise PartError(f"no part builds {', '.join(missing)}",
                        "build a part for every planned platform, or drop it from the plan")


# -- the merged index ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    platform: Platform
    descriptor: dict[str, Any]
    attestations: tuple[dict[str, Any], ...]


def merged_index(
    client: RegistryClient, repo: str, image: str, parts: Sequence[Part], plan_platforms:
    Sequence[Platform],
) -> Manifest:
    """The index the parts of ``image`` make, checked against the registry: every digest is
    there, and every image's config says the platform its part claims."""
    entries: dict[Platform, _Entry] = {}
    for part in parts:
        item = part.digest_for(image)
        found = _entries(client, repo, part, item)
        claimed = set(part.platforms)
        if set(found) != claimed:
            shown = ", ".join(str(p) for p in found) or "no platform"
            raise PartError(f"{part.source}: {image}@{item.digest[:19]} holds {shown}, the part "
                            f"claims {', '.join(str(p) for p in part.platforms)}",
                            "build the part again")
        entries.update(found)
    manifests: list[dict[str, Any]] = []
    for platform in plan_platforms:
        entry = entries[platform]
        manifests.append(entry.descriptor)
        manifests.extend(entry.attestations)
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return Manifest(sha256_digest(raw), OCI_INDEX, raw, document)


def _entries(client: RegistryClient, repo: str, part: Part, item: PartImage
             ) -> dict[Platform, _Entry]:
    manifest = client.find_manifest(repo, item.digest)
    if manifest is None:
        raise PartError(f"{part.source}: {client.host}/{repo}@{item.digest} is not in the "
                        "registry", "run that part's leg again (it pushes by digest)")
    if manifest.media_type in IMAGE_TYPES:
        platform = _config_platform(client, repo, part, manifest.json, item.digest)
        descriptor = {"mediaType": manifest.media_type, "digest": manifest.digest,
                      "size": len(manifest.raw), "platform": _platform_json(platform)}
        return {platform: _Entry(platform, descriptor, ())}
    if manifest.media_type not in INDEX_TYPES:
        raise PartError(f"{part.source}: {item.digest[:19]} is {manifest.media_type}, not an "
                        "image or index", "build the part again")
    summary = summarize_index(manifest.json)  # images apart from attestations, one rule
    if summary.problems:
        raise PartError(f"{part.source}: {item.digest[:19]}: {summary.problems[0]}",
                        "build the part again")
    raw = {str(child.get("digest", "")): child for child in manifest.json.get("manifests") or ()
           if isinstance(child, dict)}
    attestations: dict[str, list[dict[str, Any]]] = {}
    for attestation in summary.attestations:
        attestations.setdefault(attestation.refers_to or "", []).append(raw[attestation.digest])
    found: dict[Platform, _Entry] = {}
    for entry in summary.entries:
        body = client.get_manifest(repo, entry.digest)
        platform = _config_platform(client, repo, part, body.json, entry.digest)
        if entry.platform != platform:
            raise PartError(f"{part.source}: {entry.digest[:19]} is listed as {entry.platform} "
                            f"but its config says {platform}", "build the part again")
        descriptor = {**raw[entry.digest], "platform": _platform_json(platform)}
        found[platform] = _Entry(platform, descriptor,
                                 tuple(attestations.get(entry.digest, ())))
    return found


def _config_platform(client: RegistryClient, repo: str, part: Part, manifest: dict[str, Any],
                     digest: str) -> Platform:
    config = manifest.get("config") or {}
    blob = client.get_blob_json(repo, str(config.get("digest", "")))
    os_name, arch = blob.get("os"), blob.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        raise PartError(f"{part.source}: {digest[:19]}'s config names no platform",
                        "build the part again")
    return normalize_platform(os_name, arch, str(blob.get("variant") or ""))


def _platform_json(platform: Platform) -> dict[str, str]:
    listed = {"architecture": platform.arch, "os": platform.os}
    if platform.variant:
        listed["variant"] = platform.variant
    return listed


def part_steps(build_steps: Iterable[Sequence[str]], path: Path) -> list[list[str]]:
    """A leg's dry run: the engine's build and push by digest, then the part file; no tag."""

    return [*(list(step) for step in build_steps if step[0] != PUT_STEP),
            ["write-part", str(path)]]


def merge_steps(plan: Plan, parts: Sequence[Part]) -> list[list[str]]:
    """A merge's dry run: one index per image from the parts, then its tags as a release."""

    steps: list[list[str]] = []
    for image in plan.images:
        steps.append(["registry-merge-index", f"{image.name}@<digest>",
                      *(part.source for part in parts)])
        steps.append(tag_step(image))
        if image.tags.aliases:
            steps.append(alias_step(image))
    return steps


@dataclass(frozen=True)
class Split:
    """How one run takes part in a release split across machines: ``part`` builds this leg's
    platforms and writes a part file (``part_file``, or the default name beside the project);
    ``parts`` merges the legs' parts. Neither: a whole release."""

    part: bool = False
    part_file: Path | None = None
    parts: tuple[Part, ...] = ()

    def __bool__(self) -> bool:
        return self.part or bool(self.parts)

    def for_plan(self, plan: Plan, directory: Path) -> Split:
        """Checked against ``plan`` (a merge's parts must match it), with the part file's
        path settled; raises PartError in one line."""
        if self.parts:
            check_parts(self.parts, plan)
            return self
        if self.part and self.part_file is None:
            return Split(part=True, part_file=default_part_path(plan.platforms, directory))
        return self

    def steps(self, plan: Plan, build_steps: Iterable[Sequence[str]]) -> list[list[str]]:
        """The dry run's steps for this run: a leg's build and part file, or the merge."""
        if self.parts:
            return merge_steps(plan, self.parts)
        if self.part_file is not None:
            return part_steps(build_steps, self.part_file)
        return [list(step) for step in build_steps]

    def describe(self, plan: Plan) -> list[str]:
        """What this run does in the split, for the Review screen (nothing for a release)."""
        platforms = ", ".join(str(p) for p in plan.platforms)
        if self.parts:
            lines = [f"Merge of {len(self.parts)} parts built on separate machines, then "
                     "published as a release:"]
            for part in self.parts:
                digests = ", ".join(f"{image.name}@{image.digest[:19]}" for image in part.images)
                lines.append(f"  {', '.join(str(p) for p in part.platforms)}: {digests} "
                             f"({part.engine}, revision {part.revision[:12]}; {part.source})")
            return lines
        if self.part_file is not None:
            return [f"Part of a split release: builds {platforms} only, pushes it by digest "
                    "with no tag, moves no tag.",
                    f"  part file: {self.part_file}",
                    "  merge the parts afterwards: dockyard release --yes --merge PART..."]
        return []
