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
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import CredentialError, RegistryError
from core.reference import api_host, auth_key, canonical_registry
from core.secretdir import TEMP_PREFIX, sweep_base, temp_bases

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend


T = TypeVar("T")

DEFAULT_SERVICE = "dockyard"
SERVICE_ENV = "DOCKYARD_KEYRING_SERVICE"
BACKEND_ENV = "DOCKYARD_KEYRING_BACKEND"
INDEX_USERNAME = "__index__"
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
# Backends that cannot keep a secret safely or at all; only an explicit opt-in may pick them.
_REFUSED_BACKENDS = {
    "keyring.backends.fail.Keyring": "no keyring backend is available",
    "keyring.backends.null.Keyring": "the keyring is disabled (null backend)",
}
_index_lock = threading.Lock()


#: What docker's credential helpers answer as the username when the secret is an identity token.
TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credential:
    """A registry login; the registry is canonicalised and the secret never shows in repr/str.

    ``identity_token``: the secret is an OAuth2 refresh token (docker's ``identitytoken``), which
    is exchanged for bearer tokens and never sent as a password; ``username`` is then whatever
    the login file names (``<token>`` when it names none) and is not used to authenticate.
    """

    registry: str
    username: str
    secret: str = field(repr=False)
    identity_token: bool = False

    @property
    def who(self) -> str:
        """How a run names this login: the user, or "identity token" (its name means nothing)."""
        return "identity token" if self.identity_token else self.username

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
    # kept off the start-up path: loads keyring
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
    if sys.platform != "darwin":
        # keyring imports every backend it ships; the macOS one loads its Security framework
        # through ctypes.util.find_library, which on Linux runs ldconfig and gcc (25-90 ms of
        # each run). A None entry makes that import fail, which the macOS backend tolerates.
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]
    # kept off the start-up path: loads keyring
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
    # kept off the start-up path: loads keyring
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
    # From a credential helper, or an identity token: read afresh each run and never copied, as
    # such tokens expire and the tool that wrote them renews them.
    live: bool = False

    def describe(self) -> str:
        if self.credential is None:
            return f"{self.registry}: anonymous ({self.source})"
        return f"{self.registry}: {self.credential.who} from {self.source}"


def logins_for(
    registries: Iterable[str], store: CredentialStore | None = None,
    *, docker_dir: Path | None = None, podman_file: Path | None = None,
) -> list[RegistryLogin]:
    """The login for each registry, looked up once per run: the keyring's, else the user's
    existing docker or podman login (``existing_logins``), read and never written, as crane,
    regctl and skopeo do. A missing or unusable keyring is not fatal here (CI runners have none;
    a local registry may need no login) but is said."""
    unique = list(dict.fromkeys(canonical_registry(host) for host in registries))
    store = store or CredentialStore()
    existing = existing_logins(docker_dir, podman_file)

    def elsewhere(registry: str, why: str) -> RegistryLogin:
        found = [f for f in (cfg.login(registry) for cfg in existing) if f is not None]
        usable = [f for f in found if f.credential is not None]
        return (usable or found or [RegistryLogin(registry, None, why)])[0]

    try:
        source = f"the keyring ({store.backend_label})"
    except CredentialError as err:
        return [elsewhere(reg, f"no usable keyring: {err.problem}") for reg in unique]
    logins = []
    for registry in unique:
        try:
            cred = store.get(registry)
        except CredentialError as err:
            logins.append(elsewhere(registry, f"keyring read failed: {err.problem}"))
            continue
        if cred is not None:
            logins.append(RegistryLogin(registry, cred, source))
        else:
            logins.append(elsewhere(registry, "no stored login"))
    return logins


def existing_logins(
    docker_dir: Path | None = None, podman_file: Path | None = None
) -> list[AuthConfig]:
    """The user's own login files in lookup order: docker's config, then podman's auth files
    (``user_podman_auth_files``; ``podman_file`` stands for the first), each read once even
    when two names lead to one file (``REGISTRY_AUTH_FILE`` may name docker's)."""
    docker = AuthConfig(
        (docker_dir if docker_dir is not None else user_docker_dir()) / "config.json",
        "docker config")
    found = [docker]
    podman = user_podman_auth_files()
    if podman_file is not None:
        podman[0] = podman_file
    for path in podman:
        if not any(_same_file(path, config.path) for config in found):
            found.append(AuthConfig(path, "podman auth file"))
    return found


def user_podman_auth_files() -> list[Path]:
    """Where podman, buildah and skopeo read logins (containers-auth.json(5)), in their order:
    ``$REGISTRY_AUTH_FILE``, else the file ``podman login`` writes,
    ``$XDG_RUNTIME_DIR/containers/auth.json`` (``/run/containers/UID/auth.json`` without that
    variable); then ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config`` by default)."""
    configured = os.environ.get("REGISTRY_AUTH_FILE")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if configured:
        primary = Path(configured)
    elif runtime:
        primary = Path(runtime) / "containers" / "auth.json"
    else:
        primary = Path(f"/run/containers/{os.getuid()}/auth.json")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [primary, Path(config_home) / "containers" / "auth.json"]


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def import_login(
    store: CredentialStore, registry: str, *, insecure: bool = False,
    ca_file: Path | None = None, docker_dir: Path | None = None, podman_file: Path | None = None,
) -> RegistryLogin:
    """Copy the user's static docker or podman login for ``registry`` into the keyring once the
    registry accepts it. A credential helper's login or an identity token is returned uncopied
    (it stays live): a refresh token is short-lived and renewed by the tool that wrote it (``az
    acr login`` tokens last hours), so a keyring copy would go stale while the file stays right."""
    canonical = canonical_registry(registry)
    found = [f for f in (cfg.login(canonical) for cfg in existing_logins(docker_dir, podman_file))
             if f is not None]
    usable = [f for f in found if f.credential is not None]
    if not usable:
        if found:
            raise CredentialError(found[0].source, f"run `dockyard login {canonical}`")
        raise CredentialError(
            f"neither docker nor podman has a login for {canonical}",
            f"run `dockyard login {canonical}`, or `docker login {canonical}` first",
        )
    chosen = usable[0]
    assert chosen.credential is not None
    if not chosen.live:
        cred = chosen.credential
        login(store, canonical, cred.username, cred.secret, insecure=insecure, ca_file=ca_file)
    return chosen


class AuthConfig:
    """One login file of the user's (docker's ``config.json`` or podman's ``auth.json``, same
    format), read-only: per-registry ``credHelpers`` first, then the ``credsStore`` helper, then
    inline ``auths`` (docker's own order). Helpers speak the docker-credential-helpers protocol:
    ``docker-credential-NAME get``, server on stdin, JSON ``{"Username", "Secret"}`` on stdout;
    ``list`` prints ``{server: username}``."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.config: dict[str, Any] = data if isinstance(data, dict) else {}

    def shown(self) -> str:
        home = str(Path.home())
        text = str(self.path)
        return "~" + text[len(home):] if text.startswith(home + os.sep) else text

    def _helper(self, registry: str) -> str | None:
        helpers = self.config.get("credHelpers")
        if isinstance(helpers, dict):
            named = next((str(name) for key, name in helpers.items()
                          if _same_registry(str(key), registry)), None)
            if named:
                return named
        store = self.config.get("credsStore")
        return str(store) if store else None

    def login(self, registry: str) -> RegistryLogin | None:
        """The login for ``registry``; one without a credential says why it cannot be used."""
        where = f"{self.kind} ({self.shown()})"
        helper = self._helper(registry)
        if helper:
            data = _helper_get(helper, registry)
            if data is not None:
                origin = f"docker credential helper docker-credential-{helper} ({self.shown()})"
                return _helper_login(registry, data, origin)
        auths = self.config.get("auths")
        if isinstance(auths, dict):
            for key, entry in auths.items():
                if _same_registry(str(key), registry) and isinstance(entry, dict):
                    if entry.get("identitytoken"):
                        return _identity_login(registry, entry, where)
                    cred = _inline_auth(registry, entry)
                    if cred is not None:
                        return RegistryLogin(registry, cred, where)
        return None

    def registries(self) -> list[tuple[str, str]]:
        """(registry, kind) for every login this file knows of, kind being "static" (can be
        imported), "identity token" or "credential helper" (both used live); helpers list
        theirs."""
        found: dict[str, str] = {}
        auths = self.config.get("auths")
        for key, entry in auths.items() if isinstance(auths, dict) else ():
            token = isinstance(entry, dict) and bool(entry.get("identitytoken"))
            with contextlib.suppress(RegistryError):
                found.setdefault(canonical_registry(str(key)),
                                 "identity token" if token else "static")
        helpers = self.config.get("credHelpers")
        for key in helpers if isinstance(helpers, dict) else ():
            with contextlib.suppress(RegistryError):
                found[canonical_registry(str(key))] = "credential helper"
        if self.config.get("credsStore"):
            for key in _helper_list(str(self.config["credsStore"])):
                with contextlib.suppress(RegistryError):
                    found[canonical_registry(key)] = "credential helper"
        return sorted(found.items())


def _identity_login(registry: str, entry: dict[str, Any], where: str) -> RegistryLogin:
    """An ``auths`` entry with ``identitytoken``: the user its ``auth`` or ``username`` names
    (Azure writes an all-zero GUID, others none), used live and never copied."""
    user = str(entry.get("username") or "")
    if entry.get("auth"):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            user = base64.b64decode(str(entry["auth"])).decode().partition(":")[0]
    try:
        cred = Credential(registry, user or TOKEN_USERNAME, str(entry["identitytoken"]),
                          identity_token=True)
    except CredentialError as err:
        return RegistryLogin(registry, None, f"{where} holds an unusable identity token for "
                             f"{registry}: {err.problem}", live=True)
    return RegistryLogin(registry, cred, where, live=True)


def _helper_login(registry: str, data: dict[str, Any], origin: str) -> RegistryLogin:
    # the helpers' way of storing an identity token
    token = data.get("Username") == TOKEN_USERNAME
    try:
        cred = Credential(registry, str(data.get("Username") or ""), str(data.get("Secret") or ""),
                          identity_token=token)
    except CredentialError as err:
        return RegistryLogin(registry, None, f"{origin} gave an unusable login: {err.problem}",
                             live=True)
    return RegistryLogin(registry, cred, origin, live=True)


def _same_registry(key: str, registry: str) -> bool:
    try:
        return canonical_registry(key) == registry
    except RegistryError:
        return False


def _inline_auth(registry: str, entry: dict[str, Any]) -> Credential | None:
    """``{"auth": base64(user:secret)}`` or ``{"username", "password"}``."""
    user, secret = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            user, _, secret = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    try:
        return Credential(registry, str(user), str(secret)) if user and secret else None
    except CredentialError:
        return None


def _run_helper(helper: str, action: str, stdin: str) -> Any:
    """The JSON ``docker-credential-HELPER ACTION`` prints; None when it is missing or fails."""
    try:
        done = subprocess.run([f"docker-credential-{helper}", action], input=stdin,
                              capture_output=True, text=True, timeout=30, check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


def _helper_get(helper: str, registry: str) -> dict[str, Any] | None:
    data = _run_helper(helper, "get", auth_key(registry))
    return data if isinstance(data, dict) else None


def _helper_list(helper: str) -> list[str]:
    data = _run_helper(helper, "list", "")
    return [str(key) for key in data] if isinstance(data, dict) else []


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
    # kept off the start-up path: loads httpcore, httpx
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
    memory where possible (see ``temp_bases``) and is named after this process, so a run killed
    before it could clean up has its dir removed by the next dockyard command
    (``core.secretdir.sweep_orphans``).
    """
    user_dir = user_config_dir if user_config_dir is not None else user_docker_dir()
    config = _user_config_subset(user_dir)
    config["auths"] = _auths(creds)
    base = temp_bases()[0]
    sweep_base(base)
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
    """docker's ``auths``; an identity token goes as ``identitytoken`` with an ``auth`` naming the
    user and no password (containers/image skips an entry whose ``auth`` lacks the colon), and
    docker, BuildKit and podman exchange it for bearer tokens themselves."""
    auths: dict[str, dict[str, str]] = {}
    users: dict[str, str] = {}
    for cred in creds:
        key = auth_key(cred.registry)
        if users.setdefault(key, cred.username) != cred.username:
            raise CredentialError(
                f"two logins for {cred.registry} ({users[key]} and {cred.username})",
                "pass one credential per registry",
            )
        if cred.identity_token:
            name = "" if cred.username == TOKEN_USERNAME else cred.username
            user = base64.b64encode(f"{name}:".encode()).decode("ascii")
            auths[key] = {"auth": user, "identitytoken": cred.secret}
            continue
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
