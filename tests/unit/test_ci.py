"""``dockyard ci github``: the split-release workflow, read back with a YAML parser as GitHub
would read it. (actionlint, the usual checker, cannot be installed on these machines: its PyPI
package downloads the binary from GitHub while it builds.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.ci import CiSettings, github_workflow
from core.errors import DockyardError
from core.platforms import parse_platforms
from core.reference import parse_image_name
from tests.unit.test_release_cli import make_project, run_cli

IMAGES = [parse_image_name("ghcr.io/acme/app")]


def workflow(platforms: list[str], mode: str = "build", **settings: Any) -> dict[Any, Any]:
    text = github_workflow(IMAGES, parse_platforms(platforms), mode, CiSettings(**settings))
    data: dict[Any, Any] = yaml.safe_load(text)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def test_one_native_leg_per_platform_then_one_merge() -> None:
    data = workflow(["linux/amd64", "linux/arm64"])
    # YAML 1.1 reads the key `on` as true; GitHub's own reader takes it as the word
    assert data[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+*", "[0-9]+.[0-9]+.[0-9]+*"]}}
    assert data["permissions"] == {"contents": "read", "packages": "write"}  # ghcr.io pushes
    part, merge = data["jobs"]["part"], data["jobs"]["merge"]
    legs = part["strategy"]["matrix"]["include"]
    assert [(leg["platform"], leg["runner"], leg["qemu"]) for leg in legs] == [
        ("linux/amd64", "ubuntu-24.04", False), ("linux/arm64", "ubuntu-24.04-arm", False)]
    assert part["runs-on"] == "${{ matrix.runner }}"
    uses = [step.get("uses", "") for step in steps(part)]
    assert uses[0] == "actions/checkout@v4" and steps(part)[0]["with"]["fetch-depth"] == 0
    assert "docker/setup-qemu-action@v3" not in uses  # every platform has a native runner
    run = " ".join(step.get("run", "") for step in steps(part))
    assert 'dockyard release --yes --part --platform "${{ matrix.platform }}"' in run
    upload = next(s for s in steps(part) if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["name"] == "dockyard-part-${{ matrix.slug }}"  # unique, no '/'
    assert all("/" not in leg["slug"] for leg in legs)
    assert merge["needs"] == "part"
    assert merge["concurrency"]["group"].startswith("dockyard-release-")
    download = next(s for s in steps(merge) if s.get("uses") == "actions/download-artifact@v4")
    assert download["with"] == {"pattern": "dockyard-part-*", "merge-multiple": True,
                                "path": "parts"}
    assert steps(merge)[-1]["run"] == "exec dockyard release --yes --merge parts/*.json"
    login = next(s for s in steps(merge) if s.get("uses") == "docker/login-action@v3")
    assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"


def test_a_private_repository_builds_arm_on_amd64_runners_with_qemu() -> None:
    data = workflow(["linux/amd64", "linux/arm64"],
                    runners={"linux/arm64": "ubuntu-24.04"}, install="dockyard==0.1.0")
    part = data["jobs"]["part"]
    legs = part["strategy"]["matrix"]["include"]
    assert [(leg["runner"], leg["qemu"]) for leg in legs] == [
        ("ubuntu-24.04", False), ("ubuntu-24.04", True)]
    qemu = next(s for s in steps(part) if s.get("uses") == "docker/setup-qemu-action@v3")
    assert qemu["if"] == "${{ matrix.qemu }}"
    assert any(s.get("run") == 'python -m pip install "dockyard==0.1.0"' for s in steps(part))


def test_copy_mode_runs_the_users_build_before_the_part() -> None:
    data = workflow(["linux/amd64"], mode="copy", build="make dist CROSS=1")
    names = [s.get("name") or s.get("uses") for s in steps(data["jobs"]["part"])]
    assert names.index("Build the binaries") < names.index(
        "Build and push this platform by digest")
    with pytest.raises(DockyardError, match="copy mode needs the command"):
        workflow(["linux/amd64"], mode="copy")


def test_the_command_writes_the_file_once_and_reads_ci_from_dockyard_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "app", "v1.0.0")
    (project / "dockyard.toml").write_text(
        'images = ["registry.example.com/acme/app"]\nplatforms = ["linux/amd64", "linux/arm64"]'
        '\n\n[ci]\ninstall = "dockyard==0.1.0"\n\n[ci.runners]\n"linux/arm64" = "arm-box"\n')
    code, out, err = run_cli(capsys, "ci", "github", "--repo", str(project))
    assert (code, err) == (0, "")
    assert out.startswith("wrote ")
    written = project / ".github" / "workflows" / "release.yml"
    data = yaml.safe_load(written.read_text())
    assert "packages" not in data["permissions"]  # no ghcr.io image
    legs = data["jobs"]["part"]["strategy"]["matrix"]["include"]
    assert legs[1]["runner"] == "arm-box"
    login = next(s for s in steps(data["jobs"]["part"])
                 if s.get("uses") == "docker/login-action@v3")
    assert login["with"]["registry"] == "registry.example.com"
    assert login["with"]["username"] == "${{ secrets.REGISTRY_USERNAME }}"
    code, _, err = run_cli(capsys, "ci", "github", "--repo", str(project))
    assert code == 2
    assert err == ("error: ci: .github/workflows/release.yml exists already; pass --force to "
                   "replace it\n")


@pytest.mark.parametrize(("toml", "message"), [
    ('[ci]\nrunner = "x"\n', "dockyard.toml:4: 'ci.runner' is not a known key"),
    ('[ci]\ninstall = 3\n', "dockyard.toml:4: 'ci.install' must be text"),
    ('[ci.runners]\n"linux/sparc" = "x"\n', "dockyard.toml:3: "),
    ('ci = "github"\n', "dockyard.toml:3: 'ci' must be a table"),
])
def test_bad_ci_settings_are_one_line_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str
) -> None:
    project = make_project(tmp_path / "app", "v1.0.0")
    (project / "dockyard.toml").write_text(
        'images = ["ghcr.io/acme/app"]\nplatforms = ["linux/amd64"]\n' + toml)
    code, out, err = run_cli(capsys, "ci", "github", "--repo", str(project), "--stdout")
    assert code == 2 and out == ""
    assert err.startswith(f"error: config: {message}") and err.count("\n") == 1, err
