"""What one run knows about each image it publishes, and how a phase says it failed."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.plan import ImagePlan
    from core.registry import Manifest, RegistryClient


@dataclasses.dataclass
class ImageState:
    image: ImagePlan
    client: RegistryClient
    skip_build: bool = False
    digest: str | None = None  # pushed (or already published) digest; tags follow it
    manifest: Manifest | None = None  # the verified bytes every tag is written from
    kept: list[str] = dataclasses.field(default_factory=list)  # aliases this run points at it
    previous: dict[str, str | None] = dataclasses.field(default_factory=dict)
    moved: list[str] = dataclasses.field(default_factory=list)
    withheld: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def repo(self) -> str:
        return self.image.name.path

    @property
    def version_ref(self) -> str:
        return self.image.name.with_tag(self.image.tags.version_tag)


class PhaseFailed(Exception):
    """A phase failed; carries the error for ReleaseFailed. ``kind`` says how the
    aliases already moved are treated: "error" rolls them back, "cancelled" leaves them (a
    re-run completes the rest), "lost" hands them to the release that holds the version tag."""

    def __init__(self, phase: str, error: str, kind: str = "error") -> None:
        super().__init__(error)
        self.phase = phase
        self.error = error
        self.kind = kind


def short(digest: str | None) -> str:
    """A digest as the failure's words show it (enough to tell two apart)."""
    return digest[:19] if digest else "absent"
