"""With a login kept in the keyring, a buildx release still runs on the user's builder: the
throw-away DOCKER_CONFIG holds the auths, BUILDX_CONFIG points at the user's buildx dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.credentials import Credential, CredentialStore, logins_for
from core.engines.base import EngineOptions
from core.engines.selection import select_engine
from core.reference import auth_key
from core.release import engine_credentials
from tests.credentials.support import SECRET, USER
from tests.engines.conftest import build_plan
from tests.support.buildx import install_standin, write_buildx_state


@pytest.mark.parametrize(("builder", "current"), [(None, "real"), ("real", "dead")])
def test_a_stored_login_keeps_the_users_current_or_named_builder(
    store: CredentialStore, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    builder: str | None, current: str,
) -> None:
    standin = install_standin(tmp_path, monkeypatch, home=home)
    write_buildx_state(standin.buildx_dir, ["dead", "real", "second"], current)
    store.save(Credential("127.0.0.1:5000", USER, SECRET))
    logins = logins_for(["127.0.0.1:5000"], store)
    plan = build_plan(tmp_path, platforms=("linux/arm64",))
    with engine_credentials(logins) as config:
        assert config is not None
        auths = json.loads((config / "config.json").read_text())["auths"]
        assert list(auths) == [auth_key("127.0.0.1:5000")]
        options = EngineOptions(docker_config=config, progress="plain", builder=builder)
        engine = select_engine(None, options)
        assert engine.name == "buildx"
        list(engine.build(plan))
        calls = standin.calls()
        for call in calls:
            assert call["env"]["DOCKER_CONFIG"] == str(config)
            assert call["env"]["BUILDX_CONFIG"] == str(home / ".docker" / "buildx")
            assert SECRET not in " ".join(call["argv"])
    (build,) = standin.builds()
    if builder is None:
        assert "--builder" not in build["argv"]  # the current builder, as docker would pick
    else:
        assert build["argv"][build["argv"].index("--builder") + 1] == "real"
    assert [c["argv"] for c in calls if c["argv"][1] == "inspect"] == [
        ["buildx", "inspect", "--bootstrap", *([builder] if builder else [])]]
