"""The wizard's own engine, registry client and release get the insecure registries the CLI's
``--insecure-registry`` gives (the wizard has no flags: ``DOCKYARD_INSECURE_REGISTRIES``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.reference import parse_image_name
from tests.engines.conftest import build_plan
from tests.support.buildx import install_standin, write_buildx_state
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
