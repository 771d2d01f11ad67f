"""Real image content pushed into the real registry through its HTTP API (no engine needed).

Images are tiny but complete: a gzip'd tar layer with one file, an image config naming the
platform, an OCI manifest; indexes can carry BuildKit-style attestation entries shaped like
../shared/fixtures/buildx/imagetools-raw.json. Pushed with plain httpx so the client under test
is not used to build its own fixtures.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.engines.base import REVISION_LABEL

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()


@dataclass(frozen=True)
class Pushed:
    digest: str
    size: int
    media_type: str
    raw: bytes


class Pusher:
    """Pushes blobs and manifests to ``base_url`` (the registry or a proxy in front of it)."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None,
                 ca_file: Path | None = None) -> None:
        verify = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.http = httpx.Client(base_url=base_url, auth=auth, verify=verify, timeout=30)

    def close(self) -> None:
        self.http.close()

    def blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        start = self.http.post(f"/v2/{repo}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]  # carries upload state in its query: keep it
        separator = "&" if "?" in location else "?"
        done = self.http.put(f"{location}{separator}digest={digest}", content=data,
                             headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repo: str, ref: str, document: dict[str, Any]) -> Pushed:
        raw = canonical(document)
        media_type = document["mediaType"]
        done = self.http.put(f"/v2/{repo}/manifests/{ref}", content=raw,
                             headers={"Content-Type": media_type})
        assert done.status_code == 201, done.text
        return Pushed(digest_of(raw), len(raw), media_type, raw)

    def image(self, repo: str, os: str, arch: str, variant: str = "", *,
              config_platform: tuple[str, str, str] | None = None,
              labels: dict[str, str] | None = None, settings: dict[str, Any] | None = None,
              extra: tuple[bytes, ...] = ()) -> Pushed:
        """An image whose file content is unique per platform; the config may lie on purpose.
        ``settings`` add to (or replace) the config's run settings; ``extra`` files become
        further layers, one each."""
        layers = [_layer(f"app for {os}/{arch}/{variant}\n".encode()),
                  *(_layer(payload) for payload in extra)]
        c_os, c_arch, c_variant = config_platform or (os, arch, variant)
        config: dict[str, Any] = {
            "architecture": c_arch, "os": c_os,
            "rootfs": {"type": "layers",
                       "diff_ids": [digest_of(gzip.decompress(layer)) for layer in layers]},
            "config": {"Cmd": ["/app"], **({"Labels": labels} if labels else {}),
                       **(settings or {})},
        }
        if c_variant:
            config["variant"] = c_variant
        config_raw = canonical(config)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.blob(repo, config_raw),
                       "size": len(config_raw)},
            "layers": [{"mediaType": OCI_LAYER, "digest": self.blob(repo, layer),
                        "size": len(layer)} for layer in layers],
        }
        return self.manifest(repo, digest_of(canonical(manifest)), manifest)

    def attestation(self, repo: str, refers_to: str) -> Pushed:
        """A provenance attestation manifest like BuildKit's (unknown/unknown config)."""
        statement = canonical({"_type": "https://in-toto.io/Statement/v0.1",
                               "predicateType": "https://slsa.dev/provenance/v0.2",
                               "subject": [{"digest": {"sha256": refers_to.split(":")[1]}}]})
        config_raw = canonical({"architecture": "unknown", "os": "unknown",
                                "rootfs": {"type": "layers", "diff_ids": []}})
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.blob(repo, config_raw),
                       "size": len(config_raw)},
            "layers": [{"mediaType": IN_TOTO, "digest": self.blob(repo, statement),
                        "size": len(statement),
                        "annotations": {"in-toto.io/predicate-type":
                                        "https://slsa.dev/provenance/v0.2"}}],
        }
        return self.manifest(repo, digest_of(canonical(manifest)), manifest)

    def index(self, repo: str, tag: str, platforms: list[str], *, attest: bool = True,
              media_type: str = OCI_INDEX, lie: dict[str, str] | None = None,
              labels: dict[str, str] | None = None, settings: dict[str, Any] | None = None,
              extra: tuple[bytes, ...] = ()) -> Pushed:
        """Push one image per platform ("linux/arm/v7") plus attestations, then the index.

        ``lie`` maps a platform to the os/arch/variant its config should claim instead.
        """
        entries: list[dict[str, Any]] = []
        attestations: list[dict[str, Any]] = []
        for text in platforms:
            os, arch, variant = _triple(text)
            claimed = (lie or {}).get(text)
            image = self.image(repo, os, arch, variant,
                               config_platform=_triple(claimed) if claimed else None,
                               labels=labels, settings=settings, extra=extra)
            platform = {"architecture": arch, "os": os}
            if variant:
                platform["variant"] = variant
            entries.append({"mediaType": OCI_MANIFEST, "digest": image.digest,
                            "size": image.size, "platform": platform})
            if attest:
                att = self.attestation(repo, image.digest)
                attestations.append({
                    "mediaType": OCI_MANIFEST, "digest": att.digest, "size": att.size,
                    "annotations": {"vnd.docker.reference.digest": image.digest,
                                    "vnd.docker.reference.type": "attestation-manifest"},
                    "platform": {"architecture": "unknown", "os": "unknown"}})
        return self.manifest(repo, tag, {"schemaVersion": 2, "mediaType": media_type,
                                         "manifests": entries + attestations})

    def tag(self, repo: str, tag: str, pushed: Pushed) -> None:
        done = self.http.put(f"/v2/{repo}/manifests/{tag}", content=pushed.raw,
                             headers={"Content-Type": pushed.media_type})
        assert done.status_code == 201, done.text


def _triple(text: str) -> tuple[str, str, str]:
    os, arch, variant = [*text.split("/"), ""][:3]
    return os, arch, variant


def _layer(payload: bytes) -> bytes:
    """A deterministic gzip'd tar with one file ``app``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("app")
        info.size, info.mode, info.mtime = len(payload), 0o755, 0
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(buffer.getvalue(), mtime=0)


def push_releases(pusher: Pusher, repo: str) -> dict[str, Pushed]:
    """Several releases, a prerelease and a backport, with their aliases where releases leave
    them: latest/1/1.2 on 1.2.0, 1.1 on the backport 1.1.1, 1.0 on 1.0.0; ``edge`` is no
    version. The history command's tests and the history screen's read the same registry."""
    made = {"0.9.0": _single(pusher, repo, "0.9.0", "2024-01-02T03:04:05Z", "0" * 40)}
    for version, revision in [("1.0.0", "a" * 40), ("1.1.0", "b" * 40),
                              ("1.2.0-rc.1", "c" * 40), ("1.2.0", "d" * 40),
                              ("1.1.1", "e" * 40)]:
        made[version] = pusher.index(repo, version, ["linux/amd64", "linux/arm64"],
                                     labels={REVISION_LABEL: revision, "v": version})
    for alias, version in [("1.0", "1.0.0"), ("1.1", "1.1.1"), ("1.2", "1.2.0"), ("1", "1.2.0"),
                           ("latest", "1.2.0"), ("v1.2.0", "1.2.0"), ("1.2.0-rc.2", "1.2.0")]:
        pusher.tag(repo, alias, made[version])
    made["edge"] = pusher.index(repo, "edge", ["linux/amd64"], labels={"v": "edge"})
    return made


def _single(pusher: Pusher, repo: str, tag: str, created: str, revision: str) -> Pushed:
    """A one-platform image manifest (no index) whose config says when it was made."""
    content = f"single {tag}\n".encode()
    layer = pusher.blob(repo, content)
    config = canonical({"architecture": "amd64", "os": "linux", "created": created,
                        "rootfs": {"type": "layers", "diff_ids": []},
                        "config": {"Labels": {REVISION_LABEL: revision}}})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": pusher.blob(repo, config),
                           "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer, "size": len(content)}]}
    return pusher.manifest(repo, tag, manifest)
