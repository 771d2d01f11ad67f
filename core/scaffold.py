"""``dockyard init``: a Dockerfile and dockyard.toml that work with dockyard, from assets/.

The template is chosen from what the project holds (Cargo.toml, go.mod) and, in copy mode, from
how the binaries are linked; the result says which template and why, so the choice can be
overruled with ``--lang`` or ``--mode``. Nothing the user wrote is replaced without ``force``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from core.binaries import binary_path, read_elf
from core.config import FILENAME, load_config, save_config
from core.errors import BinaryError, ConfigError, DockerfileError, ModeError
from core.platforms import parse_platforms

LANGS = ("rust", "go", "generic")
MODES = ("copy", "build")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class InitPlan:
    """What ``init`` would write and why; ``write_init`` carries it out."""

    root: Path
    mode: str
    lang: str
    template: str  # file name in assets/
    binary: str | None
    name: str
    reasons: tuple[str, ...]
    dockerfile: Path
    text: str
    exists: bool  # a Dockerfile is there already (overwritten only with force)

    def summary(self) -> str:
        because = "; ".join(self.reasons)
        return f"template {self.template} ({because})"


def detect_lang(root: Path) -> tuple[str, str]:
    """``(lang, why)`` from the files at the project root."""
    if (root / "Cargo.toml").is_file():
        return "rust", "Cargo.toml found"
    if (root / "go.mod").is_file():
        return "go", "go.mod found"
    return "generic", "neither Cargo.toml nor go.mod found"


def program_name(root: Path, lang: str) -> str:
    """The binary's name: Cargo's package name, the last part of the Go module, or the folder."""
    name = ""
    if lang == "rust":
        try:
            data = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
            package = data.get("package")
            name = str(package.get("name", "")) if isinstance(package, dict) else ""
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            name = ""
    elif lang == "go":
        try:
            for line in (root / "go.mod").read_text(encoding="utf-8").splitlines():
                if line.startswith("module "):
                    name = line.split()[1].rstrip("/").rsplit("/", 1)[-1]
                    break
        except (OSError, UnicodeDecodeError, IndexError):
            name = ""
    name = name or root.name
    return name if _NAME.match(name) else "app"


def plan_init(
    root: Path,
    *,
    mode: str | None = None,
    lang: str | None = None,
    binary: str | None = None,
    dockerfile: str | None = None,
    force: bool = False,
) -> InitPlan:
    """Choose the template and refuse what would replace the user's work without ``force``."""
    if mode is not None and mode not in MODES:
        raise ModeError(f"{mode!r} is not a mode", "use copy or build")
    if lang is not None and lang not in LANGS:
        raise ModeError(f"{lang!r} is not a language dockyard has templates for",
                        "use rust, go or generic", field="lang")
    reasons: list[str] = []
    if lang is None:
        lang, why = detect_lang(root)
        reasons.append(why)
    else:
        reasons.append(f"--lang {lang}")
    config = load_config(root)
    if mode is None:
        if binary:
            mode, why = "copy", "--binary given"
        elif lang in ("rust", "go"):
            mode, why = "build", f"{lang} builds inside the Dockerfile"
        else:
            mode, why = "copy", "no build template for a generic project"
        reasons.append(why)
    name = program_name(root, lang)
    if mode == "build":
        if lang == "generic":
            raise ModeError(
                "build mode has templates for Rust and Go only",
                "pass --lang rust or --lang go, or --mode copy --binary TEMPLATE",
            )
        if binary:
            raise ModeError("--binary is for copy mode", "drop --binary, or pass --mode copy",
                            field="binary")
        template = f"{lang}.Dockerfile"
    else:
        binary = binary or config.binary or _default_binary(lang, name)
        name = Path(binary).name if "{" not in Path(binary).name else name
        static, why = _linking(root, binary, config.platforms)
        reasons.append(why)
        template = "copy-static.Dockerfile" if static else "copy-libc.Dockerfile"
    path = root / (dockerfile or config.dockerfile or "Dockerfile")
    exists = path.exists()
    if exists and not force:
        raise DockerfileError(
            f"{path.name} exists already", "pass --force to replace it", field="dockerfile"
        )
    for key, wanted in (("mode", mode), ("binary", binary if mode == "copy" else None)):
        current = getattr(config, key)
        if current is not None and wanted is not None and current != wanted and not force:
            raise ConfigError(
                f"{FILENAME} sets {key} = {current!r}, init would set {wanted!r}",
                "pass --force to change it",
            )
    text = resources.files("assets").joinpath(template).read_text(encoding="utf-8")
    text = text.replace("@NAME@", name).replace("@BINARY@", binary or "")
    return InitPlan(root, mode, lang, template, binary if mode == "copy" else None, name,
                    tuple(reasons), path, text, exists)


def _default_binary(lang: str, name: str) -> str:
    if lang == "rust":
        return f"target/{{musl_triple}}/release/{name}"
    return f"dist/{{arch}}{{variant}}/{name}"


def _linking(root: Path, template: str, platforms: tuple[str, ...]) -> tuple[bool, str]:
    """Static (FROM scratch) or dynamic (a libc base), from the first binary found, else from
    the template: Rust ``*-linux-gnu`` builds are dynamic unless crt-static."""
    for platform in parse_platforms(platforms or ("linux/amd64",)):
        try:
            path = binary_path(template, platform, root)
            elf = read_elf(path)
        except BinaryError:
            continue
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        return elf.static, f"{shown} is {'static' if elf.static else 'dynamically linked'}"
    if "{triple}" in template:
        return False, "{triple} names glibc targets, which link dynamically"
    return True, "no binary built yet: assuming static (musl, or Go with CGO_ENABLED=0)"


def write_init(plan: InitPlan) -> list[Path]:
    """Write the Dockerfile and dockyard.toml (through the config module, comments kept)."""
    plan.dockerfile.write_text(plan.text, encoding="utf-8")
    config = load_config(plan.root)
    config = dataclasses.replace(config, mode=plan.mode,
                                 binary=plan.binary if plan.mode == "copy" else config.binary)
    return [plan.dockerfile, save_config(plan.root, config)]
