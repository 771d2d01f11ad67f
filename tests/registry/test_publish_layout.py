"""Uploading an OCI layout by digest (core.publish) into the real registry, two runs at once."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from core.publish import upload_layout
from core.registry import RegistryClient
from tests.registry.content import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e  # 30 pairs of real uploads: about 15 s

PAIRS = 30


def _blob(layout: Path, data: bytes, media_type: str) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def two_platform_layout(layout: Path) -> str:
    """An OCI layout like podman's for a two-platform build: index, two images, their blobs
    (random layer bytes, so every call is a new image). Returns the index digest."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    children = []
    for arch in ("amd64", "arm64"):
        config = {"architecture": arch, "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": []}}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": _blob(layout, json.dumps(config).encode(), OCI_CONFIG),
                    "layers": [_blob(layout, os.urandom(64 * 1024), OCI_LAYER)
                               for _ in range(2)]}
        entry = _blob(layout, json.dumps(manifest).encode(), OCI_MANIFEST)
        children.append({**entry, "platform": {"os": "linux", "architecture": arch}})
    index = _blob(layout, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                      "manifests": children}).encode(), OCI_INDEX)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [index]}))
    return str(index["digest"])


def test_two_runs_uploading_one_image_at_once_both_succeed(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """A CI re-run of the same commit pushes the same bytes while the first run still does.
    distribution rewrites a manifest in place, so one PUT can read the other's half-written
    copy and answer DIGEST_INVALID (15 pairs in 100 before the client sent it again)."""
    failures: list[str] = []
    for pair in range(PAIRS):
        layout = tmp_path / f"layout-{pair}"
        index = two_platform_layout(layout)
        repo = f"dy/concurrent-{pair}"
        stored: list[str] = []

        def upload(repo: str = repo, layout: Path = layout, stored: list[str] = stored) -> None:
            with RegistryClient(registry.host) as client:
                try:
                    stored.append(upload_layout(client, repo, layout).digest)
                except Exception as err:  # collected, asserted below
                    failures.append(f"{repo}: {err}")

        threads = [threading.Thread(target=upload) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if len(stored) == 2:
            assert stored == [index, index]
            with RegistryClient(registry.host) as client:
                head = client.head_manifest(repo, index)
            assert head is not None and head.digest == index
    assert failures == []
