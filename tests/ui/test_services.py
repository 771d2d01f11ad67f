"""The wizard's own engine, registry client and release get the insecure registries the CLI's
``--insecure-registry`` gives (the wizard has no flags: ``DOCKYARD_INSECURE_REGISTRIES``); the
use cases the screens call through Services, against a real registry and real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import DockyardError
from core.platforms import parse_platforms
from core.reference import parse_image_name
from core.registry import client_for
from core.tags import TagPolicy, compute_tags
from core.version import parse_version
from tests.engines.conftest import build_plan
from tests.support.buildx import install_standin, write_buildx_state
from tests.support.registry import run_registry
from tests.support.tokenauth import token_registry
from tests.ui.conftest import push_tiny_image
from tui.services import Services

HOST = "registry.lan:5000"


def test_the_wizard_engine_and_client_treat_the_named_hosts_as_insecure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin = install_standin(tmp_path, monkeypatch)
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    monkeypatch.setenv("DOCKYARD_INSECURE_REGISTRIES", f"{HOST}, other.lan")
    services = Services()
    engine = services.engine("auto", None)
    assert engine.name == "buildx"
    assert engine.options.insecure_registries == (HOST, "other.lan")
    (build, *_) = engine.commands(build_plan(tmp_path, images=(f"{HOST}/demo",)))
    assert build[build.index("--output") + 1].endswith(",registry.insecure=true")
    client = services.registry_client(parse_image_name(f"{HOST}/demo"))
    try:
        assert client.insecure
    finally:
        client.close()
    client = services.registry_client(parse_image_name("ghcr.io/acme/demo"))
    try:
        assert not client.insecure
    finally:
        client.close()


def test_check_login_asks_the_registry_with_the_injected_client() -> None:
    """The Credentials step's check is one call; the login it proves is the factory's."""
    with run_registry(username="ci", password="right-secret") as registry:
        image = parse_image_name(f"{registry.host}/team/app")

        def logged_in(secret: str) -> Services:
            return Services(registry_client=lambda name: client_for(
                name, username="ci", secret=secret))

        logged_in("right-secret").check_login(image)
        with pytest.raises(DockyardError) as refused:
            logged_in("wrong-secret").check_login(image)
        assert "right-secret" not in str(refused.value)
        assert "wrong-secret" not in str(refused.value)


def test_check_login_refuses_a_login_that_may_only_pull(tmp_path: Path) -> None:
    """The login works for reading, so the step used to say it was fine; the release then
    failed after its build. The step now says so while the user can still change it."""
    grants = {"ci": {"team/app": frozenset({"pull", "push"}), "team/base": frozenset({"pull"})}}
    with token_registry(tmp_path, {"ci": "pw"}, grants) as (registry, _):
        services = Services(registry_client=lambda name: client_for(
            name, username="ci", secret="pw"))
        services.check_login(parse_image_name(f"{registry.host}/team/app"))
        with pytest.raises(DockyardError) as refused:
            services.check_login(parse_image_name(f"{registry.host}/team/base"))
    message = str(refused.value)
    assert "team/base: user 'ci' was refused" in message and "it may not push" in message


def test_tags_now_reads_each_tag_and_judges_the_aliases_never_backwards(registry) -> None:
    """An alias whose image is a newer release (1.1.0) is withheld from a 1.0.1 release."""
    newer = push_tiny_image(registry.url, "lookups/app", "1.1.0")
    push_tiny_image(registry.url, "lookups/app", "latest")
    version, known = parse_version("1.0.1"), [parse_version("1.0.0")]
    tag_set = compute_tags(version, known, TagPolicy(), "c0ffee" * 6 + "c0ff")
    assert "latest" in tag_set.aliases
    services = Services(registry_client=lambda name: client_for(name))
    image = parse_image_name(f"{registry.host}/lookups/app")
    now = services.tags_now(image, ("1.0.1", "latest"), tag_set, version)
    assert now.digests == {"1.0.1": None, "latest": newer}
    assert now.judged is not None
    assert "latest" not in now.judged.aliases
    assert any(alias == "latest" and "1.1.0" in why for alias, why in now.judged.withheld)
    assert services.tags_now(image, ("latest",)).judged is None


def test_preflight_copy_says_what_is_missing_as_data(tmp_path: Path) -> None:
    """Copy mode's checks before any plan: problems come back as lines, not exceptions."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nARG TARGETARCH\n"
                                         "COPY dist/${TARGETARCH}/app /app\n")
    services = Services()
    platforms = parse_platforms(["linux/amd64"])
    empty = services.preflight_copy("", tmp_path / "Dockerfile", tmp_path, platforms)
    assert empty.checks == () and empty.problem.startswith("binary:")
    assert empty.dockerfile_problem is None
    missing = services.preflight_copy("dist/{arch}/app", tmp_path / "Dockerfile", tmp_path,
                                      platforms)
    assert [check.ok for check in missing.checks] == [False]
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY dist/amd64/app /app\n")
    same = services.preflight_copy("dist/{arch}/app", tmp_path / "Dockerfile", tmp_path,
                                   platforms)
    assert same.dockerfile_problem
