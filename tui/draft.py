"""The wizard's plan draft: what the user has chosen so far, before core validates it as a Plan.

Each wizard screen takes a Draft and hands back ``dataclasses.replace(draft, ...)``; the Review
screen turns it into a ``core.plan.PlanRequest`` so every rule is checked by core, not the UI.
It loads before the first screen shows, so core modules are imported where they are used.
``BuildOutcome`` is what the Build step hands the Summary step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DockyardError

if TYPE_CHECKING:
    from core.config import ProjectConfig
    from core.events import AliasMoved, AliasWithheld
    from core.parts import Split
    from core.plan import Plan, PlanRequest
    from core.tags import TagPolicy
    from core.verify import VerifyReport
    from core.version import ReleaseVersion


class Nav(Enum):
    """What a wizard step returns instead of a Draft when the user goes back."""

    BACK = "back"


@dataclass(frozen=True)
class Draft:
    root: Path
    config: ProjectConfig | None = None  # None until dockyard.toml has been read
    split: Split | None = None  # `dockyard --part` / `--merge`: a leg or the merge; None: release
    # Version step
    version: ReleaseVersion | None = None
    known: tuple[ReleaseVersion, ...] = ()
    commit: str = ""
    # Images step
    images: tuple[str, ...] = ()
    tag_policy: TagPolicy | None = None  # None: dockyard.toml's, else the defaults
    # Platforms step
    platforms: tuple[str, ...] = ()
    engine: str = "auto"
    builder: str | None = None  # buildx builder; None: the current one
    # Build mode step
    mode: str = "build"
    binary: str | None = None
    dockerfile: str | None = None
    context: str | None = None
    cache_from: str | None = None
    cache_to: str | None = None
    target: str | None = None
    provenance: bool = True
    sbom: bool = False
    # Review step
    plan: Plan | None = None
    steps: tuple[tuple[str, ...], ...] = ()
    save_config: bool = False  # written to dockyard.toml only when the user ticks it
    dry_run: bool = False  # Review's "print the plan and exit"

    @classmethod
    def from_config(cls, root: Path, config: ProjectConfig) -> Draft:
        """Start from what dockyard.toml remembers, so a second release is mostly Next."""
        mode = config.mode or ("copy" if config.binary else "build")
        return cls(
            root=root,
            config=config,
            images=tuple(config.images),
            tag_policy=config.tags,
            platforms=tuple(config.platforms),
            engine=config.engine or "auto",
            mode=mode,
            binary=config.binary,
            dockerfile=config.dockerfile,
            context=config.context,
        )

    def with_config(self, config: ProjectConfig) -> Draft:
        """This draft's version choice on top of what dockyard.toml remembers."""
        return dataclasses.replace(Draft.from_config(self.root, config), version=self.version,
                                   known=self.known, commit=self.commit, split=self.split)

    def registry_hosts(self) -> tuple[str, ...]:
        """Distinct registry hosts of the chosen images, in order (unparsable names skipped)."""
        from core.reference import parse_image_name  # off the first paint

        hosts: list[str] = []
        for text in self.images:
            try:
                domain = parse_image_name(text).domain
            except DockyardError:
                continue
            if domain not in hosts:
                hosts.append(domain)
        return tuple(hosts)

    def to_request(self) -> PlanRequest:
        """The core request this draft stands for (imports core.plan: call it in a worker)."""
        from core.plan import BuildOptions, PlanRequest  # semver

        return PlanRequest(
            root=self.root,
            tag=self.version.git_tag if self.version else None,
            images=self.images,
            platforms=self.platforms,
            mode=self.mode,
            binary=self.binary if self.mode == "copy" else None,
            dockerfile=self.dockerfile,
            context=self.context,
            build=BuildOptions(
                cache_from=self.cache_from,
                cache_to=self.cache_to,
                target=self.target,
                provenance=self.provenance,
                sbom=self.sbom,
            ),
            tag_policy=self.tag_policy,
            engine=None if self.engine == "auto" else self.engine,
            builder=self.builder,
        )

    def to_config(self) -> ProjectConfig:
        """The choices worth remembering in dockyard.toml."""
        from core.config import ProjectConfig  # semver

        config = self.config or ProjectConfig()
        return dataclasses.replace(
            config,
            images=self.images,
            platforms=self.platforms,
            mode=self.mode,
            binary=self.binary if self.mode == "copy" else config.binary,
            dockerfile=self.dockerfile,
            context=self.context,
            tags=self.tag_policy or config.tags,
            engine=None if self.engine == "auto" else self.engine,
        )


@dataclass
class BuildOutcome:
    """What the Summary needs: did it verify, what moved, where the report and log are."""

    ok: bool = False
    cancelled: bool = False
    error: str = ""
    failed_phase: str = ""
    registry_state: str = ""
    report_path: str = ""
    log_path: str = ""
    seconds: float = 0.0
    verify: list[VerifyReport] = field(default_factory=list)
    moved: list[AliasMoved] = field(default_factory=list)
    withheld: list[AliasWithheld] = field(default_factory=list)
