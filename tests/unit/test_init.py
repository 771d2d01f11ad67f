"""``dockyard init``: template chosen from the project and its binaries, said why, and nothing
replaced without --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from tests.support.elf import write_elf
from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["init", "--repo", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rust_project_gets_the_cargo_chef_build_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "ferris"\nversion = "0.1.0"\n')
    code, out, err = run(capsys, tmp_path)
    assert code == 0, err
    assert out.splitlines()[0] == (
        "build mode, template rust.Dockerfile (Cargo.toml found; rust builds inside the "
        "Dockerfile)")
    text = (tmp_path / "Dockerfile").read_text()
    assert "cargo chef cook" in text and "/out/ferris" in text and "@" not in text
    assert load_config(tmp_path).mode == "build"


def test_go_project_gets_the_go_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    (tmp_path / "go.mod").write_text("module github.com/acme/gopher\n\ngo 1.21\n")
    code, out, _ = run(capsys, tmp_path)
    assert code == 0 and "template go.Dockerfile (go.mod found" in out
    assert 'ENTRYPOINT ["/gopher"]' in (tmp_path / "Dockerfile").read_text()


def test_copy_mode_picks_scratch_or_libc_from_the_binaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_elf(tmp_path / "dist/amd64/app", "x86-64")
    code, out, _ = run(capsys, tmp_path, "--binary", "dist/{arch}/app")
    assert code == 0 and "template copy-static.Dockerfile" in out
    assert "dist/amd64/app is static" in out
    text = (tmp_path / "Dockerfile").read_text()
    assert "FROM scratch" in text and "USER 65532:65532" in text
    config = load_config(tmp_path)
    assert (config.mode, config.binary) == ("copy", "dist/{arch}/app")

    write_elf(tmp_path / "dist/amd64/app", "x86-64", interpreter="/lib64/ld-linux-x86-64.so.2")
    code, out, _ = run(capsys, tmp_path, "--binary", "dist/{arch}/app", "--force")
    assert code == 0 and "template copy-libc.Dockerfile" in out
    assert "dist/amd64/app is dynamically linked" in out
    assert "FROM debian:bookworm-slim" in (tmp_path / "Dockerfile").read_text()


def test_gnu_triples_without_binaries_get_a_libc_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "--mode", "copy", "--binary",
                       "target/{triple}/release/app")
    assert code == 0
    assert out.splitlines()[0] == (
        "copy mode, template copy-libc.Dockerfile (neither Cargo.toml nor go.mod found; "
        "{triple} names glibc targets, which link dynamically)")


@pytest.mark.parametrize(("setup", "argv", "problem"), [
    ("Dockerfile", (), "error: dockerfile: Dockerfile exists already; pass --force to replace it"),
    ("toml", ("--mode", "build", "--lang", "go"),
     "error: config: dockyard.toml sets mode = 'copy', init would set 'build'; pass --force"),
    ("", ("--mode", "build"), "error: mode: build mode has templates for Rust and Go only"),
    ("", ("--mode", "build", "--lang", "rust", "--binary", "x/{arch}"),
     "error: binary: --binary is for copy mode"),
])
def test_refusals_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, argv: tuple[str, ...],
    problem: str,
) -> None:
    if setup == "Dockerfile":
        (tmp_path / "Dockerfile").write_text("FROM mine\n")
    elif setup == "toml":
        (tmp_path / "dockyard.toml").write_text('# mine\nmode = "copy"\nbinary = "b/{arch}"\n')
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    code, out, err = run(capsys, tmp_path, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(problem) and err.count("\n") == 1, err
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_force_keeps_the_rest_of_dockyard_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dockyard.toml").write_text(
        '# our settings\nimages = ["ghcr.io/acme/app"]\nmode = "copy"\n')
    (tmp_path / "go.mod").write_text("module acme/app\n")
    code, _, err = run(capsys, tmp_path, "--force")
    assert code == 0, err
    text = (tmp_path / "dockyard.toml").read_text()
    assert text.startswith("# our settings\n") and 'mode = "build"' in text
    assert load_config(tmp_path).images == ("ghcr.io/acme/app",)
