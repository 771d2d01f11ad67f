"""Blob upload and cross-repository mount against the real registry (proxy in front)."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.errors import CredentialError, RegistryError
from core.registry import RegistryClient, RequestCancelled
from tests.registry.conftest import Sleeps
from tests.registry.content import Pusher, digest_of
from tests.registry.proxy import Fault, FaultProxy, TokenServer, running
from tests.support.registry import RunningRegistry

Make = Callable[..., RegistryClient]
SECRET = "blob-Secret-9"


def layer_file(directory: Path, size: int) -> tuple[Path, str]:
    """A file of ``size`` random bytes (written in pieces) and its digest."""
    path = directory / f"layer-{size}"
    sha = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(left, 1 << 20))
            sha.update(piece)
            out.write(piece)
            left -= len(piece)
    return path, f"sha256:{sha.hexdigest()}"


def stored_digest(registry: RunningRegistry, repo: str, digest: str) -> str:
    """What the registry serves for the blob, read without the client under test."""
    sha = hashlib.sha256()
    with httpx.stream("GET", f"{registry.url}/v2/{repo}/blobs/{digest}",
                      follow_redirects=True) as response:
        assert response.status_code == 200
        for piece in response.iter_bytes():
            sha.update(piece)
    return f"sha256:{sha.hexdigest()}"


def test_upload_streams_the_file_and_a_second_upload_is_skipped(
    proxy: FaultProxy, registry: RunningRegistry, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 3 * 1024 * 1024 + 7)
    client = make_client(proxy.host)
    assert not client.blob_exists("dy/upload", digest)
    client.upload_blob("dy/upload", digest, path, path.stat().st_size)
    assert stored_digest(registry, "dy/upload", digest) == digest
    assert [(s.method, s.status) for s in proxy.requests()] == [
        ("HEAD", 404), ("HEAD", 404), ("POST", 202), ("PUT", 201)]
    proxy.reset_counts()
    client.upload_blob("dy/upload", digest, path, path.stat().st_size)
    assert [(s.method, s.status) for s in proxy.requests()] == [("HEAD", 200)]
    assert client.blob_exists("dy/upload", digest)


def test_upload_never_holds_the_whole_file_in_memory(
    registry: RunningRegistry, make_client: Make, tmp_path: Path
) -> None:
    """Straight to the registry (the proxy would buffer the body in this very process)."""
    path, digest = layer_file(tmp_path, 24 * 1024 * 1024)
    client = make_client(registry.host)
    client.ping()
    tracemalloc.start()
    try:
        client.upload_blob("dy/memory", digest, path, path.stat().st_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a few chunks of the file, never the whole 24 MiB
    assert stored_digest(registry, "dy/memory", digest) == digest


def test_a_broken_upload_starts_a_new_session(
    proxy: FaultProxy, registry: RunningRegistry, make_client: Make, sleeps: Sleeps,
    tmp_path: Path
) -> None:
    """A reset PUT leaves the session holding an unknown part of the file: never re-sent."""
    path, digest = layer_file(tmp_path, 2 * 1024 * 1024)
    proxy.inject(Fault(reset=True, method="PUT"))
    make_client(proxy.host, backoff=0.25).upload_blob("dy/retry", digest, path, 2 * 1024 * 1024)
    assert [(s.method, s.status) for s in proxy.requests()] == [
        ("HEAD", 404), ("POST", 202), ("PUT", 0), ("POST", 202), ("PUT", 201)]
    assert sleeps.calls == [0.25]
    assert stored_digest(registry, "dy/retry", digest) == digest


def test_an_upload_that_keeps_failing_gives_up_in_one_line(
    proxy: FaultProxy, make_client: Make, sleeps: Sleeps, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 1000)
    proxy.inject(Fault(status=503, method="PUT", times=99))
    with pytest.raises(RegistryError) as caught:
        make_client(proxy.host, max_retries=1).upload_blob("dy/down", digest, path, 1000)
    message = str(caught.value)
    assert message.startswith(f"registry: {proxy.host}/dy/down: PUT /v2/dy/down/blobs/uploads/")
    assert "(after 1 attempt) answered HTTP 503, INJECTED: fault injected by the test proxy " \
        "(upload tried in 2 sessions); retry later" in message
    assert [s.method for s in proxy.requests()] == ["HEAD", "POST", "PUT", "POST", "PUT"]
    assert len(sleeps.calls) == 1


def test_upload_follows_a_relative_location(
    proxy: FaultProxy, registry: RunningRegistry, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 3000)
    proxy.inject(Fault(relative_location=True, method="POST"))
    make_client(proxy.host).upload_blob("dy/relative", digest, path, 3000)
    [post] = proxy.requests("POST")
    [put] = proxy.requests("PUT")
    assert put.path.startswith("/v2/dy/relative/blobs/uploads/") and f"digest={digest}" in \
        put.path.replace("%3A", ":")
    assert post.status == 202 and put.status == 201
    assert stored_digest(registry, "dy/relative", digest) == digest


def test_upload_session_on_another_host_is_refused(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 100)
    proxy.inject(Fault(status=202, method="POST",
                       headers={"Location": "https://elsewhere.example/v2/dy/x/blobs/uploads/1"}))
    with pytest.raises(RegistryError, match=r"another host elsewhere\.example; not followed: "
                       "credentials stay with the registry host"):
        make_client(proxy.host).upload_blob("dy/x", digest, path, 100)
    assert proxy.requests("PUT") == []


def test_upload_under_a_wrong_digest_is_refused_by_the_registry(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    path, _ = layer_file(tmp_path, 500)
    wrong = digest_of(b"something else")
    with pytest.raises(RegistryError) as caught:
        make_client(proxy.host).upload_blob("dy/wrong", wrong, path, 500)
    message = str(caught.value)
    assert f"PUT blob {wrong} answered HTTP 400, DIGEST_INVALID" in message
    assert "\n" not in message


def test_a_stored_digest_other_than_the_one_sent_is_an_error(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 700)
    other = digest_of(b"not the file")
    proxy.inject(Fault(status=201, method="PUT", headers={"Docker-Content-Digest": other}))
    with pytest.raises(RegistryError, match=f"upload of {digest} stored {other}; the file is "
                       "not the blob it was named as"):
        make_client(proxy.host).upload_blob("dy/other", digest, path, 700)


def test_a_file_that_cannot_be_read_mid_upload_is_one_line(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 700)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make it a directory instead
        path.chmod(0o600)
        path.unlink()
        path.mkdir()
    with pytest.raises(RegistryError, match=r"could not be read while uploading it"):
        make_client(proxy.host).upload_blob("dy/unreadable", digest, path, path.stat().st_size)


def test_upload_checks_the_file_size_before_sending(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 500)
    with pytest.raises(RegistryError, match="has 500 bytes, expected 501"):
        make_client(proxy.host).upload_blob("dy/size", digest, path, 501)
    assert {s.method for s in proxy.requests()} == {"HEAD"}


def test_a_bad_digest_is_refused_before_anything_is_sent(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    with pytest.raises(RegistryError, match="'sha256:abc' is not a blob digest"):
        make_client(proxy.host).upload_blob("dy/x", "sha256:abc", tmp_path / "none", 1)
    assert proxy.count == 0


def test_a_registry_that_stops_reading_fails_the_upload_at_the_stall_timeout(
    proxy: FaultProxy, make_client: Make, tmp_path: Path
) -> None:
    """Nobody reads the body: socket buffers fill, then no byte is accepted for 3 s."""
    path, digest = layer_file(tmp_path, 48 * 1024 * 1024)
    proxy.inject(Fault(stall=True, method="PUT"))
    with pytest.raises(RegistryError) as caught:
        make_client(proxy.host, stall_timeout=3).upload_blob("dy/stall", digest, path,
                                                             path.stat().st_size)
    message = str(caught.value)
    assert message.startswith(f"registry: {proxy.host}/dy/stall: PUT /v2/dy/stall/blobs/uploads/")
    assert "stalled: no bytes moved for 3 s" in message
    assert len(proxy.requests("PUT")) == 1


def test_a_cancel_ends_an_upload(proxy: FaultProxy, make_client: Make, tmp_path: Path) -> None:
    path, digest = layer_file(tmp_path, 48 * 1024 * 1024)
    proxy.inject(Fault(stall=True, method="PUT"))
    cancel = threading.Event()
    client = make_client(proxy.host, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(RequestCancelled, match=r"PUT /v2/dy/cancel/blobs/uploads/.* cancelled"):
        client.upload_blob("dy/cancel", digest, path, path.stat().st_size)


def test_mount_from_another_repository(
    proxy: FaultProxy, pusher: Pusher, registry: RunningRegistry, make_client: Make
) -> None:
    digest = pusher.blob("dy/mount-source", b"shared layer bytes")
    client = make_client(proxy.host)
    assert client.mount_blob("dy/mount-target", digest, "dy/mount-source") is True
    assert client.blob_exists("dy/mount-target", digest)
    assert stored_digest(registry, "dy/mount-target", digest) == digest
    [post] = proxy.requests("POST")
    assert post.status == 201 and "mount=" in post.path and "from=dy%2Fmount-source" in post.path


def test_mount_that_the_registry_turns_into_an_upload_is_cancelled(
    proxy: FaultProxy, make_client: Make
) -> None:
    digest = digest_of(b"no repository has this")
    client = make_client(proxy.host)
    assert client.mount_blob("dy/mount-target", digest, "dy/mount-source") is False
    assert [(s.method, s.status) for s in proxy.requests()] == [("POST", 202), ("DELETE", 204)]
    assert not client.blob_exists("dy/mount-target", digest)


def test_bearer_upload_asks_for_push_once(
    registry: RunningRegistry, make_client: Make, tmp_path: Path
) -> None:
    path, digest = layer_file(tmp_path, 4096)
    tokens = TokenServer({"bob": SECRET})
    with running(tokens), running(FaultProxy(registry.host, bearer=tokens)) as front:
        make_client(front.host).blob_exists("dy/bearer-blob", digest)  # anonymous pull: fine
        with pytest.raises(CredentialError, match="anonymous access was refused"):
            make_client(front.host).upload_blob("dy/bearer-blob", digest, path, 4096)
        tokens.requests.clear()
        front.reset_counts()
        make_client(front.host, username="bob", secret=SECRET).upload_blob(
            "dy/bearer-blob", digest, path, 4096)
        # the HEAD's challenge names pull; the upload asks for pull,push up front (no 401)
        assert tokens.requests == [("bob", "repository:dy/bearer-blob:pull"),
                                   ("bob", "repository:dy/bearer-blob:pull,push")]
        assert [(s.method, s.status) for s in front.requests()] == [
            ("HEAD", 401), ("HEAD", 404), ("POST", 202), ("PUT", 201)]
        assert all(SECRET not in s.authorization for s in front.requests())
    assert stored_digest(registry, "dy/bearer-blob", digest) == digest
