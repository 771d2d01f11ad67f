"""A real ``dockyard release --yes`` (podman) through token auth and a private CA, with the login
given for the run alone (``--login HOST=USER --password-stdin``: no keyring, no docker login),
then ``dockyard inspect`` through the same token service.

The registry is the real ``docker-registry`` with ``auth: token:``; its token service
(tests/support/tokenauth.py) is https on another loopback port under the same throw-away CA.
``ci-bot`` may push ``team/app`` and only pull ``team/base``. The issuer's record shows the
least dockyard asked for; the leak hunt looks for the secret in argv and the environment of
every process that ran, the output, the run report, HOME and the temporary directories.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.registry import RegistryClient
from tests.credentials.support import dockyard, watch_processes
from tests.support.elf import copy_mode_project
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import TokenIssuer, project_on_private_base, token_registry

pytestmark = pytest.mark.e2e

USER = "ci-bot"
SECRET = "dy-stdin-" + uuid.uuid4().hex  # unique: any hit is a leak
PULL_PUSH, PULL = frozenset({"pull", "push"}), frozenset({"pull"})
GRANTS = {USER: {"team/app": PULL_PUSH, "team/base": PULL}}
NO_KEYRING = "keyring.backends.fail.Keyring"  # CI: no Secret Service at all


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[RunningRegistry, TokenIssuer]]:
    with token_registry(tmp_path_factory.mktemp("token-tls"), {USER: SECRET}, GRANTS,
                        tls=True) as pair:
        yield pair


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A CI runner as root: a HOME with no docker login, no keyring, no runtime dir (so the
    run's engine config goes to /dev/shm), podman storage of its own."""
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items()
            if k not in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "DBUS_SESSION_BUS_ADDRESS",
                         "DOCKYARD_TEST_KEYRING", "BUILDX_CONFIG", "XDG_RUNTIME_DIR")}
    with podman_storage("dy-token-") as root:
        yield {**base, "HOME": str(home), "TMPDIR": str(tmp_path),
               "PYTHON_KEYRING_BACKEND": NO_KEYRING, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
               "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(root)}




def _release(project: Path, image: str, *extra: str) -> tuple[str, ...]:
    return ("release", "--yes", "--engine", "podman", "--repo", str(project), "--image", image,
            "--platform", "linux/amd64,linux/arm64", "--mode", "copy", "--binary",
            "dist/{arch}/app", *extra)


def _authfiles(processes: list[bytes]) -> set[Path]:
    """The ``--authfile`` each podman child was given."""
    found = set()
    for argv in processes:
        words = argv.split(b"\0")
        found |= {Path(words[i + 1].decode()) for i, word in enumerate(words[:-1])
                  if word == b"--authfile"}
    return found


def _in_memory(path: Path) -> bool:
    """Whether ``path`` lies on a tmpfs (its bytes never reach a disk)."""
    mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    tmpfs = [Path(point) for point, kind in mounts if kind == "tmpfs"]
    return any(path.is_relative_to(point) for point in tmpfs)


def test_release_with_password_stdin_through_token_auth_and_a_private_ca(
    secured: tuple[RunningRegistry, TokenIssuer], env: dict[str, str], tmp_path: Path,
) -> None:
    registry, issuer = secured
    assert registry.ca_file is not None
    project = copy_mode_project(tmp_path / "project")
    image = f"{registry.host}/team/app"
    login = ("--login", f"{registry.host}={USER}", "--password-stdin")

    refused = dockyard(*_release(project, image, *login), env=env, stdin=SECRET + "\n",
                       timeout=300)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "release FAILED in phase resolve" in refused.stdout
    assert "--ca-file" in refused.stdout

    issuer.clear()
    with watch_processes() as seen:
        done = dockyard(*_release(project, image, *login, "--ca-file", str(registry.ca_file)),
                        env=env, stdin=SECRET + "\n", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"credentials for {registry.host}: {USER} from --password-stdin" in done.stdout

    with RegistryClient(registry.host, username=USER, secret=SECRET,
                        ca_file=registry.ca_file) as client:
        version = client.head_manifest("team/app", "1.0.0")
        latest = client.head_manifest("team/app", "latest")
    assert version is not None and latest is not None and version.digest == latest.digest

    # least privilege: the login check asks for no repository, reads ask pull, writes pull,push
    requested = {a.scopes for a in issuer.asked_by("dockyard") if a.status == 200}
    assert ("repository:team/app:pull,push",) in requested
    assert requested <= {(), ("repository:team/app:pull",), ("repository:team/app:pull,push",)}
    assert {a.user for a in issuer.asked} == {USER}

    # the leak hunt: argv and environment of every process, output, HOME (run report), tmp dirs
    needles = [SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode())]
    processes = [data for datas in seen.values() for data in datas]
    assert any(b"podman" in p and b"build" in p for p in processes)
    home = Path(env["HOME"])
    reports = list((home / ".local/state/dockyard/runs").glob("*.json"))
    assert reports
    blobs = {
        "output": [s.encode() for s in (done.stdout, done.stderr, refused.stdout,
                                        refused.stderr)],
        "process": processes,
        # HOME (the run report is there), the project and TMPDIR
        "files": [p.read_bytes() for p in tmp_path.rglob("*")
                  if p.is_file() and not p.is_symlink()],
    }
    hits = [where for where, found in blobs.items() for blob in found for needle in needles
            if needle in blob]
    assert hits == []
    assert not (home / ".docker").exists()
    # the run's engine config (the only copy of the secret outside dockyard) was in memory,
    # private to this run, and is gone; nothing was left in the temp dir either
    (authfile,) = _authfiles(processes)
    assert authfile.parent.name.startswith("dockyard-auth-") and _in_memory(authfile)
    assert not authfile.parent.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith("dockyard-auth-")] == []


def test_a_wrong_secret_on_stdin_fails_the_run_in_one_place_and_says_nothing_of_it(
    secured: tuple[RunningRegistry, TokenIssuer], env: dict[str, str], tmp_path: Path,
) -> None:
    registry, _ = secured
    assert registry.ca_file is not None
    project = copy_mode_project(tmp_path / "project")
    wrong = "wrong-" + SECRET
    done = dockyard(*_release(project, f"{registry.host}/team/app", "--login",
                              f"{registry.host}={USER}", "--password-stdin", "--ca-file",
                              str(registry.ca_file)), env=env, stdin=wrong + "\n", timeout=300)
    assert done.returncode == 1
    assert "token service refused the credentials" in done.stdout
    assert wrong not in done.stdout + done.stderr
    empty = dockyard(*_release(project, f"{registry.host}/team/app", "--login",
                               f"{registry.host}={USER}", "--password-stdin"), env=env, stdin="")
    assert (empty.returncode, empty.stdout) == (2, "")
    assert empty.stderr == ("error: password-stdin: stdin held no token or password; pipe one "
                            "line holding the secret into --password-stdin\n")


def test_a_login_that_may_only_pull_fails_the_release_before_anything_is_built(
    secured: tuple[RunningRegistry, TokenIssuer], env: dict[str, str], tmp_path: Path,
) -> None:
    """ci-bot may pull team/base but not push it: the registry check says so in phase resolve,
    before a build that would have taken the runner's time and then failed at the upload."""
    registry, _ = secured
    assert registry.ca_file is not None
    project = copy_mode_project(tmp_path / "project")
    with watch_processes() as seen:
        done = dockyard(*_release(project, f"{registry.host}/team/base", "--login",
                                  f"{registry.host}={USER}", "--password-stdin", "--ca-file",
                                  str(registry.ca_file)), env=env, stdin=SECRET + "\n",
                        timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "release FAILED in phase resolve" in done.stdout
    assert f"{registry.host}/team/base: user 'ci-bot' was refused" in done.stdout
    assert "it may not push" in done.stdout
    processes = [data for datas in seen.values() for data in datas]
    ours = env["DOCKYARD_PODMAN_ROOT"].encode()  # the watcher sees other tests' podman too
    assert not any(b"podman" in p and b"build" in p and ours in p for p in processes)
    with RegistryClient(registry.host, username=USER, secret=SECRET,
                        ca_file=registry.ca_file) as client:
        assert client.list_tags("team/base", missing_ok=True) == []


def test_inspect_through_token_auth_with_the_docker_login_asks_pull_only(
    secured: tuple[RunningRegistry, TokenIssuer], env: dict[str, str], tmp_path: Path,
) -> None:
    """What the user's ``docker login`` left in config.json is read (never written) by
    ``dockyard inspect``; the repository is read with a pull token alone."""
    registry, issuer = secured
    assert registry.ca_file is not None
    pusher_token = issuer.mint("fixture", [{"type": "repository", "name": "team/base",
                                            "actions": ["pull", "push"]}])
    from tests.registry.content import Pusher

    pusher = Pusher(registry.url, ca_file=registry.ca_file)
    pusher.http.headers["Authorization"] = f"Bearer {pusher_token}"
    index = pusher.index("team/base", "2.0.0", ["linux/amd64", "linux/arm64"])
    pusher.close()
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    issuer.clear()
    done = dockyard("inspect", f"{registry.host}/team/base:2.0.0", "--json", "--ca-file",
                    str(registry.ca_file), env={**env, "DOCKER_CONFIG": str(docker)})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["digest"] == index.digest and len(shown["platforms"]) == 2
    assert {a.scopes for a in issuer.asked} == {("repository:team/base:pull",)}
    assert {a.user for a in issuer.asked} == {USER}


def test_podman_pulls_the_base_image_from_the_private_ca_registry_with_ca_file(
    secured: tuple[RunningRegistry, TokenIssuer], env: dict[str, str], tmp_path: Path,
) -> None:
    """The build's ``FROM`` is on the https registry: podman itself must trust the CA (and
    fetch its pull token from the https realm) with the run's login, not only dockyard."""
    registry, issuer = secured
    assert registry.ca_file is not None
    # 1.0.0 may be out already
    project = project_on_private_base(registry, issuer, tmp_path / "project", "v2.0.0")
    issuer.clear()
    done = dockyard(*_release(project, f"{registry.host}/team/app", "--login",
                              f"{registry.host}={USER}", "--password-stdin", "--ca-file",
                              str(registry.ca_file)), env=env, stdin=SECRET + "\n", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    podman_asked = [a for a in issuer.asked if not a.agent.startswith("dockyard")]
    assert podman_asked and {a.user for a in podman_asked} == {USER}
    assert {a.scopes for a in podman_asked} == {("repository:team/base:pull",)}
    with RegistryClient(registry.host, username=USER, secret=SECRET,
                        ca_file=registry.ca_file) as client:
        index = client.get_manifest("team/app", "2.0.0")
        image = client.get_manifest("team/app", index.json["manifests"][0]["digest"])
    assert len(image.json["layers"]) == 2  # the base's layer and the copied binary
