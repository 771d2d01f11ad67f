"""``dockyard diff`` on two images really built by podman from Dockerfiles one change apart."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry
from tui.cli import main

pytestmark = pytest.mark.e2e
REPO = "dy/diff-podman"
BUSYBOX = Path("/bin/busybox")
BEFORE = "FROM scratch\nCOPY busybox /bin/sh\nCMD [\"/bin/sh\"]\n"
#: The known change: an ENV (config only, no layer) and a RUN (one layer holding /feature).
AFTER = BEFORE + "ENV FEATURE=on\nRUN echo on > /feature\n"


def test_env_and_run_layer_show(registry: RunningRegistry, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    if not BUSYBOX.is_file():
        pytest.skip("busybox-static is not installed (scripts/test installs it)")
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(BUSYBOX, context / "busybox")
    image = f"{registry.host}/{REPO}"
    with podman_storage("dy-diff-") as root:
        podman = ["podman", "--root", str(root / "root"), "--runroot", str(root / "run"),
                  "--storage-driver", "vfs"]
        for version, dockerfile in (("1.0.0", BEFORE), ("1.1.0", AFTER)):
            (context / f"{version}.Dockerfile").write_text(dockerfile)
            for argv in ([*podman, "build", "--isolation", "chroot", "-f",
                          str(context / f"{version}.Dockerfile"), "-t", f"dy-diff:{version}",
                          str(context)],
                         [*podman, "push", "--tls-verify=false", f"dy-diff:{version}",
                          f"docker://{image}:{version}"]):
                done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
                assert done.returncode == 0, done.stderr[-2000:]
    assert main(["diff", f"{image}:1.0.0", f"{image}:1.1.0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [platform] = data["platforms"]  # one image each, matched by its config's platform
    assert data["only_in_a"] == data["only_in_b"] == [] and data["problems"] == []
    assert platform["config"] == [
        {"field": "env", "key": "FEATURE", "change": "added", "a": None, "b": "on"}]
    layers = platform["layers"]
    assert layers["removed"] == [] and layers["shared"] == 1  # busybox, built once, cached
    [added] = layers["added"]
    blob = httpx.get(f"{registry.url}/v2/{REPO}/blobs/{added['digest']}", follow_redirects=True)
    blob.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.content))) as tar:
        # the RUN's file; buildah's RUN also leaves the /etc files it mounted (hosts, ...)
        [feature] = [m for m in tar.getmembers() if m.name.lstrip("./") == "feature"]
        written = tar.extractfile(feature)
        assert written is not None and written.read() == b"on\n"
    assert platform["size_delta"] == platform["b"]["size"] - platform["a"]["size"] > 0
