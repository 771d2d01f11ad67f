"""A GitHub Actions workflow for a split release: one native runner per platform builds a part,
one job merges them. Written from dockyard.toml so the CI runs the same plan as the CLI.

The text is assembled here rather than through a YAML library: every value dockyard puts in it
is written as a JSON string, which YAML reads as the same string, and the layout is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import DockyardError
from core.platforms import Platform, parse_platform
from core.reference import ImageName

#: Runner labels when dockyard.toml names none. The arm64 ones are free for public repositories
#: only; a private repository names an amd64 runner for arm64 and gets QEMU instead.
DEFAULT_RUNNERS = {"linux/amd64": "ubuntu-24.04", "linux/386": "ubuntu-24.04",
                   "linux/arm64": "ubuntu-24.04-arm", "linux/arm/v7": "ubuntu-24.04-arm",
                   "linux/arm/v6": "ubuntu-24.04-arm"}
FALLBACK_RUNNER = "ubuntu-24.04"
WORKFLOW_PATH = ".github/workflows/release.yml"


class CiError(DockyardError):
    field = "ci"

    def __init__(self, problem: str, valid: str = "", *, key: str = "") -> None:
        super().__init__(problem, valid)
        self.key = key  # the [ci] key at fault, so config.py can name its line


@dataclass(frozen=True)
class CiSettings:
    """``[ci]`` in dockyard.toml."""

    runners: Mapping[str, str] = field(default_factory=dict)  # platform -> runner label
    install: str = "dockyard"  # the pip requirement that installs dockyard on a runner
    build: str | None = None  # copy mode: the command that cross-compiles the binaries
    python: str = "3.12"


def runner_for(platform: Platform, settings: CiSettings) -> str:
    return settings.runners.get(str(platform)) or DEFAULT_RUNNERS.get(str(platform),
                                                                      FALLBACK_RUNNER)


def _native(platform: Platform, runner: str) -> bool:
    """Whether ``runner`` builds ``platform`` without QEMU (judged by its label)."""
    arm_runner = "arm" in runner.lower()
    return (platform.arch in ("arm64", "arm")) == arm_runner


def _q(value: str) -> str:
    return json.dumps(value)


def _login_steps(images: Sequence[ImageName], indent: str) -> list[str]:
    lines: list[str] = []
    for registry in dict.fromkeys(image.registry for image in images):
        github = registry == "ghcr.io"
        user = "${{ github.actor }}" if github else "${{ secrets.REGISTRY_USERNAME }}"
        secret = "${{ secrets.GITHUB_TOKEN }}" if github else "${{ secrets.REGISTRY_PASSWORD }}"
        lines += [f"{indent}- name: {_q('Log in to ' + registry)}",
                  f"{indent}  uses: docker/login-action@v3",
                  f"{indent}  with:",
                  f"{indent}    registry: {_q(registry)}",
                  f"{indent}    username: {user}",
                  f"{indent}    password: {secret}"]
    return lines


def _setup_steps(settings: CiSettings, images: Sequence[ImageName], indent: str) -> list[str]:
    return [
        f"{indent}- uses: actions/checkout@v4",
        f"{indent}  with:",
        f"{indent}    fetch-depth: 0  # every tag: the release rules read them",
        f"{indent}- uses: actions/setup-python@v5",
        f"{indent}  with:",
        f"{indent}    python-version: {_q(settings.python)}",
        f"{indent}- name: Install dockyard",
        f"{indent}  run: python -m pip install {_q(settings.install)}",
        *_login_steps(images, indent),
    ]


def github_workflow(
    images: Sequence[ImageName], platforms: Sequence[Platform], mode: str, settings: CiSettings
) -> str:
    """The workflow text: on a version tag, a part per platform on its runner, then a merge."""
    if not images or not platforms:
        raise CiError("dockyard.toml names no images or no platforms",
                      "set images and platforms in dockyard.toml first (dockyard init)")
    if mode == "copy" and not settings.build:
        raise CiError("copy mode needs the command that builds the binaries on the runner",
                      'set [ci] build = "make dist" (or your build command) in dockyard.toml')
    ghcr = any(image.domain == "ghcr.io" for image in images)
    step = " " * 6
    lines = [
        "# Written by `dockyard ci github` from dockyard.toml; write it again after changing it.",
        "name: release",
        "on:",
        "  push:",
        "    tags:",
        f"      - {_q('v[0-9]+.[0-9]+.[0-9]+*')}",
        f"      - {_q('[0-9]+.[0-9]+.[0-9]+*')}",
        "permissions:",
        "  contents: read",
        *(["  packages: write"] if ghcr else []),
        "jobs:",
        "  part:",
        "    name: part ${{ matrix.platform }}",
        "    strategy:",
        "      fail-fast: true",
        "      matrix:",
        "        include:",
    ]
    emulated = False
    for platform in platforms:
        runner = runner_for(platform, settings)
        qemu = not _native(platform, runner)
        emulated = emulated or qemu
        slug = str(platform).replace("/", "-")
        lines += [f"          - platform: {_q(str(platform))}",
                  f"            runner: {_q(runner)}",
                  f"            slug: {_q(slug)}",
                  f"            qemu: {'true' if qemu else 'false'}"]
    lines += ["    runs-on: ${{ matrix.runner }}", "    steps:",
              *_setup_steps(settings, images, step)]
    if emulated:
        lines += [f"{step}- uses: docker/setup-qemu-action@v3  # no native runner for it",
                  f"{step}  if: ${{{{ matrix.qemu }}}}"]
    lines += [f"{step}- uses: docker/setup-buildx-action@v3"]
    if mode == "copy" and settings.build:
        lines += [f"{step}- name: Build the binaries", f"{step}  run: {_q(settings.build)}"]
    part = "dockyard-part-${{ matrix.slug }}.json"
    lines += [
        f"{step}- name: Build and push this platform by digest",
        f"{step}  run: >-",
        f"{step}    exec dockyard release --yes --part --platform \"${{{{ matrix.platform }}}}\"",
        f"{step}    --part-file \"{part}\"",
        f"{step}- uses: actions/upload-artifact@v4",
        f"{step}  with:",
        f"{step}    name: dockyard-part-${{{{ matrix.slug }}}}",
        f"{step}    path: {_q(part)}",
        f"{step}    if-no-files-found: error",
        "  merge:",
        "    needs: part",
        "    runs-on: ubuntu-24.04",
        "    concurrency:",
        "      group: dockyard-release-${{ github.repository }}",
        "      cancel-in-progress: false",
        "    steps:",
        *_setup_steps(settings, images, step),
        f"{step}- uses: actions/download-artifact@v4",
        f"{step}  with:",
        f"{step}    pattern: dockyard-part-*",
        f"{step}    merge-multiple: true",
        f"{step}    path: parts",
        f"{step}- name: Merge the parts, verify, tag and move the aliases",
        f"{step}  run: exec dockyard release --yes --merge parts/*.json",
    ]
    return "\n".join(lines) + "\n"


def parse_ci(table: Mapping[str, object]) -> CiSettings:
    """``[ci]`` values into CiSettings; CiError names the key (config.py adds the line)."""
    known = ("runners", "install", "build", "python")
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            raise CiError(f"'ci.{key}' is not a known key", "use " + ", ".join(known), key=key)
        if key == "runners":
            if not isinstance(value, dict):
                raise CiError("'ci.runners' must be a table",
                              '[ci.runners] "linux/arm64" = "ubuntu-24.04-arm"', key=key)
            runners: dict[str, str] = {}
            for name, label in value.items():
                if not isinstance(label, str) or not label.strip():
                    raise CiError(f"'ci.runners.{name}' must be a runner label",
                                  'e.g. "ubuntu-24.04-arm"', key=key)
                try:
                    runners[str(parse_platform(str(name)))] = label
                except DockyardError as err:
                    raise CiError(err.problem, err.valid, key=key) from None
            values[key] = runners
        elif not isinstance(value, str) or not value.strip():
            raise CiError(f"'ci.{key}' must be text", f'e.g. {key} = "..."', key=key)
        else:
            values[key] = value
    return CiSettings(**values)  # type: ignore[arg-type]
