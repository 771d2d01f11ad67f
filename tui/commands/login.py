"""``dockyard login`` / ``logout`` / ``credentials``: registry logins kept in the OS keyring.

The secret is read from a no-echo prompt or one line of stdin, never from argv, and is checked
against the registry before it is saved. Heavy imports (keyring, httpx) stay in the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import CredentialError
from tui.commands import write_json

if TYPE_CHECKING:
    from core.credentials import AuthConfig

TOKEN_HINT = (
    "Tokens are preferred over passwords: create an access token with push rights in the "
    "registry's settings (Docker Hub: Account settings > Personal access tokens; GitHub: a "
    "token with write:packages) and paste it instead of your password.\n"
)


def register(subparsers: Any) -> None:
    login = subparsers.add_parser(
        "login",
        help="check a registry login and save it in the OS keyring",
        description="Check a username and token (preferred) or password against REGISTRY and "
        "save them in the OS keyring only if the registry accepts them. The secret is prompted "
        "for without echo, or read from one line of stdin with --password-stdin; it is never "
        "taken from the command line. Without REGISTRY the credentials screen opens.",
    )
    login.add_argument("registry", nargs="?", metavar="REGISTRY",
                       help="registry host[:port], e.g. ghcr.io, docker.io, 127.0.0.1:5000")
    login.add_argument("--username", "-u", metavar="U", help="user name (prompted if omitted)")
    login.add_argument("--import", dest="import_", action="store_true",
                       help="copy the login docker or podman already has for REGISTRY into the "
                       "keyring once the registry accepts it (without REGISTRY: list them)")
    login.add_argument("--password-stdin", action="store_true",
                       help="read the token or password from the first line of stdin")
    login.add_argument("--password", "-p", nargs="?", action=_RefuseSecretInArgv,
                       help=argparse.SUPPRESS)
    login.add_argument("--insecure-registry", action="store_true",
                       help="allow plain http / unverified TLS to this registry")
    login.add_argument("--ca-file", type=Path, metavar="PATH",
                       help="CA certificate (PEM) that signed the registry's TLS certificate")
    login.set_defaults(handler=run_login)

    logout = subparsers.add_parser(
        "logout",
        help="remove saved registry logins from the OS keyring",
        description="Remove the saved login for USER at REGISTRY, or every login for REGISTRY "
        "when --username is not given.",
    )
    logout.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")
    logout.add_argument("--username", "-u", metavar="U", help="only this user's login")
    logout.set_defaults(handler=run_logout)

    creds = subparsers.add_parser(
        "credentials",
        help="list the saved registry logins (never the secrets)",
        description="List the registry logins dockyard keeps in the OS keyring: registry and "
        "user name only, never the secret.",
    )
    creds.add_argument("--json", action="store_true", help="machine-readable output")
    creds.set_defaults(handler=run_credentials)


class _RefuseSecretInArgv(argparse.Action):
    """``--password X`` would put the secret in ps output and shell history: refuse it unseen."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string} is not accepted: a secret on the command line shows in "
                     "the process list and shell history; use --password-stdin or the prompt")


def run_login(args: argparse.Namespace) -> int:
    if args.import_:
        return _run_import(args)
    if args.registry is None:
        return _open_credentials_manager()
    # kept off dockyard --help's path
    from core.credentials import CredentialStore, login
    from core.reference import canonical_registry

    registry = canonical_registry(args.registry)
    if args.ca_file is not None:
        # kept off dockyard --help's path: loads httpcore, httpx
        from core.registry import check_ca_file

        args.ca_file = check_ca_file(args.ca_file)
    store = CredentialStore()
    label = store.backend_label  # no usable keyring: fail before asking for anything
    username = args.username or _prompt_username(args.password_stdin)
    secret = _read_secret(username, registry, args.password_stdin)
    cred = login(store, registry, username, secret,
                 insecure=args.insecure_registry, ca_file=args.ca_file)
    sys.stdout.write(f"Login succeeded: {cred.username} at {cred.registry}, saved in {label}\n")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    """Import docker's or podman's login; a helper's is only reported, as it is read live."""
    if args.username or args.password_stdin:
        raise CredentialError("--import takes the user and secret from docker's or podman's "
                              "login", "--import [REGISTRY] alone", field="login")
    # kept off dockyard --help's path
    from core.credentials import CredentialStore, existing_logins, import_login

    if args.registry is None:
        return _list_existing(existing_logins())
    if args.ca_file is not None:
        # kept off dockyard --help's path: loads httpcore, httpx
        from core.registry import check_ca_file

        args.ca_file = check_ca_file(args.ca_file)
    store = CredentialStore()
    label = store.backend_label  # no usable keyring: fail before reading any login
    found = import_login(store, args.registry, insecure=args.insecure_registry,
                         ca_file=args.ca_file)
    assert found.credential is not None
    who = f"{found.credential.username} at {found.registry}"
    if found.credential.identity_token:
        sys.stdout.write(f"Not copied: the identity token for {found.registry} in {found.source} "
                         "stays there; dockyard reads it afresh on each run (the tool that wrote "
                         "it renews it)\n")
    elif found.live:
        sys.stdout.write(f"Not copied: {who} comes from {found.source}; dockyard asks it afresh "
                         "on each run (its tokens may expire)\n")
    else:
        sys.stdout.write(f"Imported {who} from {found.source}, checked against the registry "
                         f"and saved in {label}\n")
    return 0


def _list_existing(configs: list[AuthConfig]) -> int:
    rows = [(reg, cfg, kind) for cfg in configs for reg, kind in cfg.registries()]
    if not rows:
        shown = ", ".join(cfg.shown() for cfg in configs)
        sys.stdout.write(f"No docker or podman logins found (looked in {shown})\n")
        return 0
    width = max(len(reg) for reg, _, _ in rows)
    for reg, cfg, kind in rows:
        how = "static, can be imported" if kind == "static" else f"{kind}, used live"
        sys.stdout.write(f"{reg:<{width}}  {cfg.kind} {cfg.shown()}: {how}\n")
    sys.stdout.write("Import one with: dockyard login --import REGISTRY\n")
    return 0


def _open_credentials_manager() -> int:
    # kept off dockyard --help's path: loads httpcore, httpx, semver, textual
    from tui.standalone import run_credentials_manager

    return run_credentials_manager()


def _prompt_username(password_stdin: bool) -> str:
    if password_stdin or not sys.stdin.isatty():
        raise CredentialError("no --username given and no terminal to ask on", "pass --username U")
    username = input("Username: ").strip()
    if not username:
        raise CredentialError("no username given", "a registry user name")
    return username


def _read_secret(username: str, registry: str, password_stdin: bool) -> str:
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise CredentialError("stdin held no token or password", "one line on stdin")
        return secret
    if not sys.stdin.isatty():
        raise CredentialError(
            "no terminal to prompt for the secret on",
            "pipe the token into --password-stdin",
        )
    import getpass  # kept off dockyard --help's path: only a prompt needs it

    sys.stderr.write(TOKEN_HINT)
    secret = getpass.getpass(f"Token (or password) for {username} at {registry}: ")
    if not secret:
        raise CredentialError("no token or password given", "paste the token at the prompt")
    return secret


def run_logout(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path
    from core.credentials import CredentialStore
    from core.reference import canonical_registry

    registry = canonical_registry(args.registry)
    removed = CredentialStore().delete(registry, args.username)
    who = f"{args.username} at {registry}" if args.username else registry
    if removed == 0:
        raise CredentialError(f"no saved login for {who}", "see `dockyard credentials`")
    sys.stdout.write(f"Removed {removed} login{'s' if removed != 1 else ''} for {who}\n")
    return 0


def run_credentials(args: argparse.Namespace) -> int:
    # kept off dockyard --help's path
    from core.credentials import CredentialStore

    store = CredentialStore()
    entries = store.entries()
    if args.json:
        data = {
            "backend": store.backend_label,
            "service": store.service,
            "credentials": [{"registry": reg, "username": user} for reg, user in entries],
        }
        write_json(data)
        return 0
    if not entries:
        sys.stdout.write(f"No saved logins (keyring: {store.backend_label})\n")
        return 0
    width = max(len("REGISTRY"), *(len(reg) for reg, _ in entries))
    sys.stdout.write(f"{'REGISTRY':<{width}}  USERNAME\n")
    for reg, user in entries:
        sys.stdout.write(f"{reg:<{width}}  {user}\n")
    sys.stdout.write(f"(keyring: {store.backend_label})\n")
    return 0
