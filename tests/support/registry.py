"""A real distribution registry (Debian ``docker-registry``) on a free loopback port, for tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningRegistry:
    host: str  # "127.0.0.1:PORT"
    root: Path  # storage directory
    scheme: str  # "http" or "https"
    ca_file: Path | None  # the throw-away CA when TLS is on
    username: str | None
    password: str | None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def non_loopback_address() -> str:
    """This machine's outward IPv4 address ("" when it has none), to play a non-local host."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return ""
    return "" if address.startswith("127.") else address


def make_ca_and_cert(directory: Path, ip: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``ip``; returns (ca, cert, key)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "san.ext"
    ext.write_text(f"subjectAltName=IP:{ip},DNS:localhost\n")
    run = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=dockyard test CA", "-keyout", ca_key, "-out", ca],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}",
         "-keyout", key, "-out", csr],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert],
    ]
    for argv in run:
        subprocess.run([str(a) for a in argv], check=True, capture_output=True)
    return ca, cert, key


@contextlib.contextmanager
def run_registry(
    *, username: str | None = None, password: str | None = None, tls: bool = False,
    auth_lines: Sequence[str] = (), pki: tuple[Path, Path, Path] | None = None,
) -> Iterator[RunningRegistry]:
    """Start ``docker-registry serve`` with optional htpasswd auth and TLS; stop it afterwards.

    ``auth_lines`` is another ``auth:`` section (token auth, tests/support/tokenauth.py); ``pki``
    (ca, cert, key) turns TLS on with a CA made elsewhere, so a token service can share it."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-registry-"))
    storage = workdir / "storage"
    storage.mkdir()
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    ca_file = None
    if tls or pki is not None:
        ca_file, cert, key = pki or make_ca_and_cert(workdir)
        lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
    if username is not None:
        assert password is not None
        htpasswd = workdir / "htpasswd"
        entry = subprocess.run(
            ["htpasswd", "-niB", username], input=password, text=True,
            check=True, capture_output=True,
        ).stdout.strip()
        htpasswd.write_text(entry + "\n")
        lines += ["auth:", "  htpasswd:", "    realm: dockyard-test", f"    path: {htpasswd}"]
    lines += auth_lines
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = (workdir / "registry.log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    scheme = "https" if ca_file is not None else "http"
    running = RunningRegistry(
        host=f"127.0.0.1:{port}", root=storage, scheme=scheme, ca_file=ca_file,
        username=username, password=password,
    )
    try:
        _wait_ready(running, proc)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(registry: RunningRegistry, proc: subprocess.Popen[bytes]) -> None:
    context = None
    if registry.ca_file is not None:
        context = ssl.create_default_context(cafile=str(registry.ca_file))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{registry.url}/v2/", timeout=1, context=context)
            return
        except urllib.error.HTTPError:
            return  # 401 with auth on: it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not start within 20 s")
