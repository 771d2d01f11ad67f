"""Helpers for the credential tests: a tiny OCI image, a skopeo push, the real CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.registry import RunningRegistry

REPO = Path(__file__).resolve().parents[2]
USER = "ci-bot"
SECRET = "dy-T0ken-" + uuid.uuid4().hex  # unique, so a hit anywhere is really a leak


@dataclass(frozen=True)
class OciImage:
    layout: Path
    ref: str  # "oci:DIR:latest"


def make_oci_layout(root: Path, text: str) -> OciImage:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        payload = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(payload), 0o644, 0
        tar.addfile(info, io.BytesIO(payload))
    layer_digest, layer_size = blob(buffer.getvalue())
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}],
    }
    manifest_digest, manifest_size = blob(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }]}
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return OciImage(layout=root, ref=f"oci:{root}:latest")


def skopeo_push(
    image: OciImage, registry: RunningRegistry, target: str, *, env: dict[str, str],
    authfile: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Push ``image`` to ``registry``/``target`` with skopeo; TLS is verified against the CA."""
    argv = ["skopeo", "copy", "--retry-times", "0"]
    if authfile is not None:
        argv += ["--authfile", str(authfile)]
    if registry.ca_file is not None:
        cert_dir = registry.ca_file.parent / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        (cert_dir / "ca.crt").write_bytes(registry.ca_file.read_bytes())
        argv += ["--dest-cert-dir", str(cert_dir)]
    else:
        argv += ["--dest-tls-verify=false"]
    argv += [image.ref, f"docker://{registry.host}/{target}"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def dockyard(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], input=stdin, env=env, cwd=REPO,
        capture_output=True, text=True, timeout=timeout,
    )


@contextmanager
def watch_processes() -> Iterator[dict[int, set[bytes]]]:
    """Record the cmdline and environ of every process that appears while the block runs."""
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    seen: dict[int, set[bytes]] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) in before:
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{name}/{part}").read_bytes()
                    except OSError:
                        continue
                    seen.setdefault(int(name), set()).add(data)
            time.sleep(0.002)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
