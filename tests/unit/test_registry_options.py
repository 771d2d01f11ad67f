"""The registry options every registry-reading command shares (tui/commands/__init__.py)."""

from __future__ import annotations

import argparse

import pytest

from tui.cli import main
from tui.commands import insecure_hosts


def _args(*hosts: str) -> argparse.Namespace:
    return argparse.Namespace(insecure_registry=list(hosts), ca_file=None)


def test_a_flag_adds_to_the_machines_insecure_registries(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """CI sets DOCKYARD_INSECURE_REGISTRIES for its mirror; one more host on the command line
    must not take the mirror's permission away."""
    monkeypatch.setenv("DOCKYARD_INSECURE_REGISTRIES", "mirror.ci:5000, cache.ci")
    assert insecure_hosts(_args("lab.local:5000", "cache.ci")) == (
        "mirror.ci:5000", "cache.ci", "lab.local:5000")
    monkeypatch.delenv("DOCKYARD_INSECURE_REGISTRIES")
    assert insecure_hosts(_args()) == ()


@pytest.mark.parametrize("command", [["inspect", "lab.local/app:1.0.0"],
                                     ["history", "lab.local/app"],
                                     ["browse", "lab.local/app"],
                                     ["diff", "lab.local/app:1.0.0", "1.1.0"],
                                     ["rollback", "lab.local/app", "--to", "1.0.0"],
                                     ["promote", "lab.local/app:1.0.0-rc.1", "--as", "1.0.0"]])
def test_a_bad_host_is_one_line_naming_the_option(
    command: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([*command, "--insecure-registry", "http://lab.local"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: insecure-registry: ") and err.count("\n") == 1
