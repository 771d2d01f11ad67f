"""Registry credentials: kept in the OS keyring, handed to engines through a throw-away config dir.

Keyring layout (service ``dockyard`` unless ``DOCKYARD_KEYRING_SERVICE`` names another):

* one entry per registry and user, keyring username ``"<registry>/<user>"`` (the registry is the
  canonical host, which never holds a ``/``), secret = token or password;
* one index entry, keyring username ``"__index__"``, holding JSON ``[[registry, user], ...]``
  (no secrets, most recently saved last) because keyring backends cannot list their entries.

Nothing falls back to a plain file: without a usable keyring every call raises CredentialError
saying what to install or unlock. ``DOCKYARD_KEYRING_BACKEND=module.Class`` is the one explicit
opt-in to any other keyring backend (including plaintext ones); it is labelled as such.
Keyring calls run in a daemon thread with a time limit, so a stuck D-Bus or an unlock prompt
nobody answers becomes an error instead of a hang. ``keyring`` is imported lazily (start-up time).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import CredentialError, RegistryError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from core.reference import ImageName
    from core.registry import RegistryClient

T = TypeVar("T")

DEFAULT_SERVICE = "dockyard"
SERVICE_ENV = "DOCKYARD_KEYRING_SERVICE"
BACKEND_ENV = "DOCKYARD_KEYRING_BACKEND"
INDEX_USERNAME = "__index__"
DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
TEMP_PREFIX = "dockyard-auth-"
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)

NO_KEYRING_HINT = (
    "install and unlock a Secret Service keyring: gnome-keyring with a D-Bus session "
    "(Debian/Ubuntu: apt install gnome-keyring dbus-user-session, then log in to a desktop "
    "session or run inside `dbus-run-session`), or KWallet; or opt in to another keyring "
    f"backend explicitly with {BACKEND_ENV}=module.Class"
)
_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$"
)
# Backends that cannot keep a secret safely or at all; only an explicit opt-in may pick them.
_REFUSED_BACKENDS = {
    "keyring.backends.fail.Keyring": "no keyring backend is available",
    "keyring.backends.null.Keyring": "the keyring is disabled (null backend)",
}
_index_lock = threading.Lock()


def canonical_registry(host: str) -> str:
    """One name per registry: lowercased host[:port], Docker Hub's aliases folded to docker.io."""
    text = host.strip().lower()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    text = text.split("/", 1)[0]
    if not text:
        raise RegistryError("no registry host given", "a host such as ghcr.io or 127.0.0.1:5000")
    if not _HOST_RE.match(text):
        raise RegistryError(
            f"{host.strip()!r} is not a registry host",
            "a host[:port] such as ghcr.io, docker.io or 127.0.0.1:5000",
        )
    return DOCKER_HUB if text in DOCKER_HUB_ALIASES else text


def api_host(registry: str) -> str:
    """The host that serves the Registry HTTP API v2 for ``registry``."""
    canonical = canonical_registry(registry)
    return DOCKER_HUB_API_HOST if canonical == DOCKER_HUB else canonical


def auth_key(registry: str) -> str:
    """The ``auths`` key docker expects: Docker Hub keeps its historic URL."""
    canonical = canonical_registry(registry)
    return DOCKER_HUB_AUTH_KEY if canonical == DOCKER_HUB else canonical


@dataclass(frozen=True)
class Credential:
    """A registry login; the registry is canonicalised and the secret never shows in repr/str."""

    registry: str
    username: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry", canonical_registry(self.registry))
        if not self.username or ":" in self.username or _has_control(self.username):
            raise CredentialError(
                f"{self.username!r} is not a usable username",
                "a non-empty name without ':' or control characters",
            )
        if not self.secret or _has_control(self.secret):
            raise CredentialError(
                "the token or password is empty or holds control characters (e.g. a newline)",
                "one line of printable text",
            )


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _entry_name(registry: str, username: str) -> str:
    return f"{registry}/{username}"


class CredentialStore:
    """Credentials in the OS keyring, one entry per (registry, username) plus a listing index.

    ``service`` defaults to ``$DOCKYARD_KEYRING_SERVICE`` or ``"dockyard"``. ``backend`` is a
    keyring backend object chosen by the caller; without it the backend is resolved on first use.
    """

    def __init__(
        self,
        service: str | None = None,
        *,
        timeout: float = 10.0,
        backend: KeyringBackend | None = None,
    ) -> None:
        self.service = service or os.environ.get(SERVICE_ENV) or DEFAULT_SERVICE
        self.timeout = timeout
        self._backend = backend
        self._label = None if backend is None else f"{_class_name(backend)} (given by the caller)"

    @property
    def backend_label(self) -> str:
        """Which keyring holds the secrets, for messages; resolving it fails early if unusable."""
        self._keyring()
        assert self._label is not None
        return self._label

    def save(self, cred: Credential) -> None:
        """Store (or replace) the secret, then list it in the index (undone if that fails)."""
        backend = self._keyring()
        name = _entry_name(cred.registry, cred.username)
        self._call(
            "saving the credentials",
            lambda: backend.set_password(self.service, name, cred.secret),
            secret=cred.secret,
        )
        with _index_lock:
            try:
                pairs = [p for p in self._read_index() if p != (cred.registry, cred.username)]
                pairs.append((cred.registry, cred.username))
                self._write_index(pairs)
            except CredentialError:
                # An entry the index does not list could never be shown or logged out of.
                with contextlib.suppress(CredentialError):
                    self._call("undoing the save", functools.partial(
                        _delete_password, backend, self.service, name))
                raise

    def get(self, registry: str, username: str | None = None) -> Credential | None:
        """The stored login; without ``username`` the most recently saved one for the registry."""
        canonical = canonical_registry(registry)
        if username is None:
            users = [user for reg, user in self._read_index() if reg == canonical]
            if not users:
                return None
            username = users[-1]
        backend = self._keyring()
        name = _entry_name(canonical, username)
        secret = self._call(
            "reading the credentials", lambda: backend.get_password(self.service, name)
        )
        return None if secret is None else Credential(canonical, username, secret)

    def entries(self) -> list[tuple[str, str]]:
        """(registry, username) pairs, sorted; never secrets."""
        return sorted(set(self._read_index()))

    def delete(self, registry: str, username: str | None = None) -> int:
        """Remove one login, or every login for the registry; returns how many were removed."""
        canonical = canonical_registry(registry)
        backend = self._keyring()
        with _index_lock:
            pairs = self._read_index()
            doomed = [
                (reg, user) for reg, user in pairs
                if reg == canonical and (username is None or user == username)
            ]
            if username is not None and not doomed:
                doomed = [(canonical, username)]  # stored but missing from the index
            removed = 0
            for reg, user in doomed:
                delete = functools.partial(
                    _delete_password, backend, self.service, _entry_name(reg, user)
                )
                removed += self._call("deleting the credentials", delete)
            remaining = [p for p in pairs if p not in doomed]
            if remaining != pairs:
                self._write_index(remaining)
        return removed

    def _read_index(self) -> list[tuple[str, str]]:
        backend = self._keyring()
        raw = self._call(
            "reading the credential list",
            lambda: backend.get_password(self.service, INDEX_USERNAME),
        )
        if raw is None:
            return []
        try:
            data = json.loads(raw)
            return [(str(reg), str(user)) for reg, user in data]
        except (ValueError, TypeError) as err:
            raise CredentialError(
                f"the credential list in the keyring (service {self.service!r}, "
                f"user {INDEX_USERNAME!r}) is damaged",
                "delete that keyring entry and log in again",
            ) from err

    def _write_index(self, pairs: list[tuple[str, str]]) -> None:
        """Rewrite the index; an empty one is removed so logout leaves nothing behind."""
        backend = self._keyring()
        if not pairs:
            delete = functools.partial(_delete_password, backend, self.service, INDEX_USERNAME)
            self._call("saving the credential list", delete)
            return
        text = json.dumps([list(p) for p in pairs])
        self._call(
            "saving the credential list",
            lambda: backend.set_password(self.service, INDEX_USERNAME, text),
        )

    def _keyring(self) -> KeyringBackend:
        if self._backend is None:
            self._backend, self._label = self._call("opening the keyring", _resolve_backend)
        return self._backend

    def _call(self, what: str, func: Callable[[], T], *, secret: str = "") -> T:
        """Run one keyring call in a daemon thread so a stuck D-Bus cannot hang dockyard."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = func()
            except BaseException as err:
                box["error"] = err

        thread = threading.Thread(target=run, name="dockyard-keyring", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise CredentialError(
                f"the keyring did not answer within {self.timeout:g} s while {what} "
                "(a locked collection waiting for an unlock prompt, or a stuck D-Bus session)",
                NO_KEYRING_HINT,
            )
        if "error" in box:
            raise _translate(box["error"], what, secret) from None
        value: T = box["value"]
        return value


def _delete_password(backend: KeyringBackend, service: str, name: str) -> int:
    """1 if an entry was deleted, 0 if there was none."""
    from keyring.errors import PasswordDeleteError

    try:
        backend.delete_password(service, name)
    except PasswordDeleteError:
        return 0
    return 1


def _class_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _resolve_backend() -> tuple[KeyringBackend, str]:
    """The explicit opt-in if set, else keyring's own choice, refusing unsafe or dead backends."""
    import keyring
    from keyring.backends.chainer import ChainerBackend

    opted_in = os.environ.get(BACKEND_ENV)
    if opted_in:
        try:
            chosen = keyring.core.load_keyring(opted_in)
        except (ImportError, AttributeError, ValueError) as err:
            raise CredentialError(
                f"{BACKEND_ENV}={opted_in!r} does not name an importable keyring backend class",
                "a dotted module.Class such as keyring.backends.SecretService.Keyring",
            ) from err
        _refuse_dead(chosen)
        return chosen, f"{_class_name(chosen)} (explicit opt-in via {BACKEND_ENV})"
    chosen = keyring.get_keyring()
    if isinstance(chosen, ChainerBackend):
        usable = [b for b in chosen.backends if _refusal(b) is None]
        if not usable:
            found = ", ".join(_class_name(b) for b in chosen.backends) or "none"
            raise CredentialError(f"no usable keyring backend (found: {found})", NO_KEYRING_HINT)
        chosen = usable[0]
    reason = _refusal(chosen)
    if reason is not None:
        raise CredentialError(reason, NO_KEYRING_HINT)
    return chosen, f"{chosen.name} ({_class_name(chosen)})"


def _refuse_dead(backend: KeyringBackend) -> None:
    reason = _REFUSED_BACKENDS.get(_class_name(backend))
    if reason is not None:
        raise CredentialError(reason, NO_KEYRING_HINT)


def _refusal(backend: KeyringBackend) -> str | None:
    """Why dockyard will not keep secrets in ``backend`` without an explicit opt-in."""
    name = _class_name(backend)
    if name in _REFUSED_BACKENDS:
        return _REFUSED_BACKENDS[name]
    if name.startswith("keyrings.alt.") or "plaintext" in name.lower():
        return (
            f"the keyring backend {name} keeps secrets in a file, not a keyring; dockyard "
            f"uses it only when {BACKEND_ENV}={name} opts in explicitly"
        )
    return None


def _translate(err: BaseException, what: str, secret: str) -> CredentialError:
    """A keyring/D-Bus failure as one CredentialError that names the fix; never the secret."""
    if isinstance(err, CredentialError):
        return err
    from keyring.errors import InitError, KeyringLocked, NoKeyringError

    if isinstance(err, KeyringLocked):
        return CredentialError(
            f"the keyring is locked and was not unlocked while {what}",
            "unlock the login keyring (e.g. in Seahorse / Passwords and Keys, or KWallet) "
            "and try again",
        )
    if isinstance(err, NoKeyringError | InitError):
        return CredentialError(f"no usable keyring while {what}", NO_KEYRING_HINT)
    detail = " ".join(str(err).split())
    if secret:
        detail = detail.replace(secret, "***")
    return CredentialError(
        f"the keyring failed while {what}: {type(err).__name__}: {detail}"[:400], NO_KEYRING_HINT
    )


@dataclass(frozen=True)
class RegistryLogin:
    """Which login a run uses for one registry and where it came from (never the secret)."""

    registry: str
    credential: Credential | None
    source: str  # "the keyring (...)", "no stored login", "no usable keyring: ..."

    def describe(self) -> str:
        if self.credential is None:
            return f"{self.registry}: anonymous ({self.source})"
        return f"{self.registry}: {self.credential.username} from {self.source}"


def logins_for(
    registries: Iterable[str], store: CredentialStore | None = None
) -> list[RegistryLogin]:
    """The stored login for each registry, looked up once per run. A missing or unusable
    keyring is not fatal here (a local registry may need no login) but is said, not hidden."""
    unique = list(dict.fromkeys(canonical_registry(host) for host in registries))
    store = store or CredentialStore()
    try:
        source = f"the keyring ({store.backend_label})"
    except CredentialError as err:
        return [RegistryLogin(reg, None, f"no usable keyring: {err.problem}") for reg in unique]
    logins = []
    for registry in unique:
        try:
            cred = store.get(registry)
        except CredentialError as err:
            logins.append(RegistryLogin(registry, None, f"keyring read failed: {err.problem}"))
            continue
        logins.append(RegistryLogin(registry, cred, source if cred else "no stored login"))
    return logins


def logged_in_client(
    image: ImageName,
    *,
    insecure_registries: Iterable[str] = (),
    ca_file: Path | None = None,
    login: RegistryLogin | None = None,
    cancel: threading.Event | None = None,
    stall_timeout: float | None = None,
) -> RegistryClient:
    """A client for the image's registry with its stored login (anonymous when there is none
    or no usable keyring: public and local registries still answer)."""
    from core.registry import client_for

    chosen = login or logins_for([image.domain])[0]
    cred = chosen.credential
    return client_for(
        image,
        username=cred.username if cred else None,
        secret=cred.secret if cred else None,
        insecure_registries=insecure_registries,
        ca_file=ca_file,
        cancel=cancel,
        stall_timeout=stall_timeout,
    )


def login(
    store: CredentialStore,
    registry: str,
    username: str,
    secret: str,
    *,
    insecure: bool = False,
    ca_file: Path | None = None,
) -> Credential:
    """Check the login against the registry and save it only if the registry accepts it."""
    from core.registry import RegistryClient

    cred = Credential(registry, username, secret)
    store.backend_label  # noqa: B018 - no keyring: fail before sending the secret anywhere
    client = RegistryClient(
        api_host(cred.registry),
        username=cred.username,
        secret=cred.secret,
        insecure=insecure,
        ca_file=ca_file,
    )
    try:
        client.check_auth()
    finally:
        client.close()
    store.save(cred)
    return cred


def user_docker_dir() -> Path:
    """The user's own docker config dir: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    configured = os.environ.get("DOCKER_CONFIG")
    return Path(configured) if configured else Path.home() / ".docker"


def docker_env(config_dir: Path, *, user_config_dir: Path | None = None) -> dict[str, str]:
    """Environment for docker/buildx/podman/skopeo children using ``config_dir``'s logins.

    BUILDX_CONFIG keeps the user's buildx builders (an existing ``$BUILDX_CONFIG`` wins);
    REGISTRY_AUTH_FILE lets podman, buildah and skopeo read the same ``auths`` without argv.
    """
    user_dir = user_config_dir if user_config_dir is not None else user_docker_dir()
    buildx = os.environ.get("BUILDX_CONFIG") or str(user_dir / "buildx")
    return {
        "DOCKER_CONFIG": str(config_dir),
        "BUILDX_CONFIG": buildx,
        "REGISTRY_AUTH_FILE": str(config_dir / "config.json"),
    }


@contextlib.contextmanager
def temporary_docker_config(
    creds: Sequence[Credential], *, user_config_dir: Path | None = None
) -> Iterator[Path]:
    """A private docker config dir holding only ``creds``, removed on exit whatever happens.

    dockyard writes ``auths`` itself (``docker login`` could hand the secret to the user's
    credential helper). Plugins, the current context and proxies of the user's config are kept;
    its ``credsStore``/``credHelpers`` are not, so only these logins are used. The dir lives in
    ``$XDG_RUNTIME_DIR`` (per-user tmpfs) when there is one.
    """
    user_dir = user_config_dir if user_config_dir is not None else user_docker_dir()
    config = _user_config_subset(user_dir)
    config["auths"] = _auths(creds)
    base = _temp_base()
    _sweep_orphans(base)
    directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=base))
    try:
        os.chmod(directory, 0o700)
        contexts = user_dir / "contexts"
        if contexts.is_dir():
            (directory / "contexts").symlink_to(contexts.resolve(), target_is_directory=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(directory / "config.json", flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(config, handle, indent=1)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _auths(creds: Sequence[Credential]) -> dict[str, dict[str, str]]:
    auths: dict[str, dict[str, str]] = {}
    users: dict[str, str] = {}
    for cred in creds:
        key = auth_key(cred.registry)
        if users.setdefault(key, cred.username) != cred.username:
            raise CredentialError(
                f"two logins for {cred.registry} ({users[key]} and {cred.username})",
                "pass one credential per registry",
            )
        token = base64.b64encode(f"{cred.username}:{cred.secret}".encode()).decode("ascii")
        auths[key] = {"auth": token}
    return auths


def _user_config_subset(user_dir: Path) -> dict[str, Any]:
    """What of the user's config.json a build needs besides logins (never their auths)."""
    config: dict[str, Any] = {}
    try:
        user = json.loads((user_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        user = {}
    if isinstance(user, dict):
        for key in ("currentContext", "proxies"):
            if key in user:
                config[key] = user[key]
    plugin_dirs = [str(user_dir / "cli-plugins")]
    plugin_dirs += [d for d in SYSTEM_PLUGIN_DIRS if Path(d).is_dir()]
    config["cliPluginsExtraDirs"] = plugin_dirs
    return config


def _temp_base() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK | os.X_OK):
        return runtime
    return tempfile.gettempdir()


def _sweep_orphans(base: str) -> None:
    """Remove dirs left by dockyard runs that were killed (their pid no longer exists)."""
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid_text = name[len(TEMP_PREFIX):].split("-", 1)[0]
        path = os.path.join(base, name)
        if not pid_text.isdigit() or os.path.islink(path):
            continue
        try:
            if os.stat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue
