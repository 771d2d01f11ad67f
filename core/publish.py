"""Publish by digest: an image reaches the registry with no tag, and the version tag is then
created from those exact bytes, never replaced.

Every later step (verification, the version tag, each alias) names the image by its digest, so
what a tag points at is always what was checked, whatever another run does to the tags
meanwhile. The same steps serve a one-machine release and, later, the merge of parts built on
several machines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import PublishError, RegistryError
from core.registry import Manifest, sha256_digest

if TYPE_CHECKING:
    from core.plan import ImagePlan
    from core.registry import RegistryClient

#: Pseudo-commands shown in dry runs for steps dockyard does through the registry API itself.
UPLOAD_STEP = "registry-upload"
PUT_STEP = "registry-put-manifest"
DIGEST_PLACEHOLDER = "<digest>"
LAYOUT_PLACEHOLDER = "<oci-layout>"


# -- an OCI layout (what podman writes) into the registry, by digest ---------------------------


def upload_layout(client: RegistryClient, repo: str, layout: Path) -> Manifest:
    """Upload the one image (index or manifest) of an OCI image layout to ``repo`` by digest:
    blobs first, then child manifests, then the top one; no tag is written. Returns the top
    manifest as stored, so its exact bytes can be tagged later."""
    top = _layout_top(layout)
    manifest = _read_manifest(layout, top["digest"], str(top.get("mediaType", "")))
    _push_manifest(client, repo, layout, manifest)
    return manifest


def _layout_top(layout: Path) -> dict[str, Any]:
    try:
        index = json.loads((layout / "index.json").read_text())
    except (OSError, ValueError) as err:
        raise PublishError(f"the engine wrote no readable OCI layout at {layout} ({err})",
                           "check the build log") from None
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise PublishError(f"the OCI layout at {layout} holds {len(entries or [])} images",
                           "the engine should have written exactly one image list")
    return entries[0]


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexa = digest.partition(":")
    if algorithm != "sha256" or len(hexa) != 64 or not all(c in "0123456789abcdef" for c in hexa):
        raise PublishError(f"the OCI layout names an unusable digest {digest!r}",
                           "only sha256 digests are supported")
    return layout / "blobs" / "sha256" / hexa


def _read_manifest(layout: Path, digest: str, media_type: str) -> Manifest:
    path = _blob_path(layout, digest)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PublishError(f"the OCI layout lacks manifest {digest} ({err.strerror})",
                           "the engine wrote an incomplete layout") from None
    if sha256_digest(raw) != digest:
        raise PublishError(f"manifest {digest} in the OCI layout does not match its digest",
                           "the layout was altered; build again")
    try:
        document = json.loads(raw)
    except ValueError:
        raise PublishError(f"manifest {digest} in the OCI layout is not JSON",
                           "the engine wrote an unreadable layout") from None
    if not isinstance(document, dict):
        raise PublishError(f"manifest {digest} in the OCI layout is not a JSON object",
                           "the engine wrote an unreadable layout")
    return Manifest(digest, str(document.get("mediaType") or media_type), raw, document)


def _push_manifest(client: RegistryClient, repo: str, layout: Path, manifest: Manifest) -> None:
    """Children before parents: the registry refuses a manifest whose references are missing."""
    if manifest.is_index:
        for entry in manifest.json.get("manifests") or ():
            child = _read_manifest(layout, str(entry.get("digest", "")),
                                   str(entry.get("mediaType", "")))
            _push_manifest(client, repo, layout, child)
    else:
        for blob in _blobs(manifest.json):
            digest = str(blob.get("digest", ""))
            path = _blob_path(layout, digest)
            size = blob.get("size")
            client.upload_blob(repo, digest, path, int(size) if isinstance(size, int) else 0)
    client.put_manifest(repo, manifest.digest, manifest.raw, manifest.media_type)


def _blobs(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    config = manifest.get("config")
    if isinstance(config, dict):
        yield config
    for layer in manifest.get("layers") or ():
        if isinstance(layer, dict):
            yield layer


# -- the version tag: created, never replaced ---------------------------------------------------


@dataclass(frozen=True)
class TagClaim:
    """The outcome of creating a version tag: ``holder`` is the digest the registry holds."""

    tag: str
    holder: str
    created: bool  # True: this run wrote it now; False: it was there already

    def won(self, digest: str) -> bool:
        return self.holder == digest


def create_version_tag(client: RegistryClient, repo: str, tag: str, manifest: Manifest) -> TagClaim:
    """Write ``tag`` from ``manifest``'s exact bytes only if it does not exist, then read it back.

    OCI has no create-if-absent: between the HEAD and the PUT another release can create the
    same tag, and the later PUT replaces it. The read-back catches a writer that came before us;
    one that comes after our read-back is caught by the checks before every alias move and
    after the alias verification (release.py), where the loser stops and moves nothing. The
    window left is a rival whose HEAD saw no tag, and whose PUT lands after our last check.
    """
    head = client.head_manifest(repo, tag)
    if head is not None:
        return TagClaim(tag, head.digest, created=False)
    try:
        client.put_manifest(repo, tag, manifest.raw, manifest.media_type)
    except RegistryError:
        # registries with immutable tags (Harbor, Quay, ECR) refuse to replace: another won
        again = client.head_manifest(repo, tag)
        if again is not None and again.digest != manifest.digest:
            return TagClaim(tag, again.digest, created=False)
        raise
    back = client.head_manifest(repo, tag)
    if back is None:
        raise PublishError(f"{client.host}/{repo}:{tag} is missing right after it was written",
                           "the registry dropped the tag; run the release again")
    return TagClaim(tag, back.digest, created=back.digest == manifest.digest)


def holds(client: RegistryClient, repo: str, tag: str, digest: str) -> str | None:
    """None while ``tag`` still points at ``digest``, else what it points at now ("absent")."""
    head = client.head_manifest(repo, tag)
    if head is None:
        return "absent"
    return None if head.digest == digest else head.digest


def put_alias(client: RegistryClient, repo: str, alias: str, manifest: Manifest) -> str:
    """Point ``alias`` at ``manifest`` by PUTting its exact bytes: same digest by construction."""
    return client.put_manifest(repo, alias, manifest.raw, manifest.media_type)


# -- what a dry run shows for these steps -------------------------------------------------------


def tag_step(image: ImagePlan) -> list[str]:
    """The version tag is created from the pushed digest's bytes, never rebuilt."""
    return [PUT_STEP, f"{image.name}@{DIGEST_PLACEHOLDER}",
            image.name.with_tag(image.tags.version_tag)]


def alias_step(image: ImagePlan) -> list[str]:
    """Aliases receive the verified digest's exact bytes, one PUT each."""
    return [PUT_STEP, f"{image.name}@{DIGEST_PLACEHOLDER}",
            *[image.name.with_tag(alias) for alias in image.tags.aliases]]


def upload_step(image: ImagePlan) -> list[str]:
    return [UPLOAD_STEP, LAYOUT_PLACEHOLDER, str(image.name)]
