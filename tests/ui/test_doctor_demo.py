"""First run: ``dockyard doctor`` output and ``dockyard demo`` through the real CLI, the wizard
opened on the demo project (Pilot), and the whole ``dockyard demo`` under tmux."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.demo import registry_answers
from tests.support.registry import RunningRegistry, free_port
from tests.support.tmux import terminal
from tui.cli import main


def test_doctor_text_gives_a_fix_under_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--repo", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert [line.split()[1] for line in heads][:3] == ["docker", "buildx", "builders"]
    for index, line in enumerate(lines):
        if line.startswith(("warn", "FAIL")):
            following = next((x for x in lines[index + 1:] if "fix:" in x or not
                              x.startswith(" ")), "")
            assert "fix:" in following, line
    assert code == (1 if any(line.startswith("FAIL") for line in heads) else 0)


def test_doctor_json_matches_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--json", "--repo", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == (0 if data["ok"] else 1)
    assert data["ok"] == all(check["status"] != "fail" for check in data["checks"])


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not our child (started by a subprocess): wait until gone
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def test_demo_without_opening_creates_the_project_and_a_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"127.0.0.1:{free_port()}"
    code = main(["demo", "--dir", str(tmp_path / "demo"), "--registry", host, "--no-open"])
    out = capsys.readouterr().out
    match = re.search(r"stop it with: kill (\d+)", out)
    assert match, out
    try:
        assert code == 0
        assert registry_answers(host)
        assert f"image {host}/demo/app, tag v0.1.0" in out
        assert f"open the wizard with: cd {(tmp_path / 'demo').resolve()} && dockyard" in out
    finally:
        _stop(int(match.group(1)))


def test_demo_refuses_a_remote_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--dir", str(tmp_path / "demo"), "--registry", "ghcr.io", "--no-open"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: registry: 'ghcr.io' is not a loopback")


@pytest.mark.anyio
async def test_the_wizard_opens_on_the_demo_with_every_release_rule_passing(
    tmp_path: Path,
) -> None:
    from core.demo import create_demo
    from screens.version import VersionScreen
    from tui.app import DockyardApp

    root = create_demo(tmp_path / "demo", registry=f"127.0.0.1:{free_port()}").root
    app = DockyardApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        screen: Any = None
        for _ in range(300):
            await pilot.pause(0.02)
            screen = app.screen
            if isinstance(screen, VersionScreen) and screen.rules:
                break
        assert isinstance(screen, VersionScreen)
        assert {rule.rule: rule.ok for rule in screen.rules} == {
            "semver": True, "newer": True, "exists": True, "on-head": True, "clean": True}
        assert app.draft is not None and app.draft.root == root


def test_demo_without_a_usable_registry_fails_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as listener:  # the port answers, but not as a registry
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        code = main(["demo", "--dir", str(tmp_path / "demo"), "--registry", host])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (f"error: registry: {host} is in use by something that is not a registry; "
                   "free the port; or use another port: dockyard demo --registry "
                   "127.0.0.1:PORT\n")
    assert not (tmp_path / "demo").exists()


def _demo_in_terminal(tmp_path: Path, host: str, *extra: str, in_wizard: str) -> str:
    """``dockyard demo`` in a real terminal: the wizard opens and says ``in_wizard`` about the
    registry (the demo's own lines are hidden behind it), Ctrl+Q; what it printed."""
    argv = [sys.executable, "-m", "tui.cli", "demo", "--dir", str(tmp_path / "demo"),
            "--registry", host, *extra]
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    with terminal(argv, cwd=Path(__file__).resolve().parents[2], env=env,
                  status_dir=tmp_path, width=120, height=40) as term:
        term.wait_for(in_wizard)  # a notification, shown from the start for 20 s
        term.wait_for("Release rules", "v0.1.0", "Version", "Images")
        term.keys("C-q")
        assert term.exit_status(timeout=20) == 0, term.screen()
        return term.screen()


def _pid_of(printed: str) -> int:
    match = re.search(r"docker-registry \(pid (\d+),", printed)
    assert match, printed
    return int(match.group(1))


@pytest.mark.e2e
def test_the_registry_the_demo_started_stops_with_it(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    printed = _demo_in_terminal(tmp_path, host, in_wizard="stopped when")
    pid = _pid_of(printed)
    assert f"registry: stopped the demo registry on {host}" in printed
    assert "left running" not in printed
    assert not registry_answers(host)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.e2e
def test_keep_registry_leaves_it_running_and_says_how_to_stop_it(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    printed = _demo_in_terminal(tmp_path, host, "--keep-registry", in_wizard="left running")
    pid = _pid_of(printed)
    try:
        assert f"registry: {host} is left running; stop it with: kill {pid}" in printed
        assert registry_answers(host)
    finally:
        _stop(pid)


@pytest.mark.e2e
def test_a_registry_the_demo_found_running_is_never_stopped(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    printed = _demo_in_terminal(tmp_path, registry.host, in_wizard="left as it is")
    assert f"registry: {registry.host} already running (not started by dockyard" in printed
    assert "stopped" not in printed and "left running" not in printed
    assert registry_answers(registry.host)
