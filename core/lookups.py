"""What the wizard asks a registry before a release runs: does the stored login work, and where
do the release's tags point now (judged by the never-backwards rule, as the run will judge it).

The screens reach these through ``tui.services.Services``, which hands in the logged-in client
factory; they never talk to a ``RegistryClient`` themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.published import guard, read_published

if TYPE_CHECKING:
    from core.engines.base import ClientFactory
    from core.reference import ImageName
    from core.tags import TagSet
    from core.version import ReleaseVersion


def check_login(name: ImageName, client_for: ClientFactory) -> None:
    """Raise the registry's refusal (``CredentialError``) when the login for ``name`` fails,
    or may read but not push (the release would find out only after its build)."""
    client = client_for(name)
    try:
        client.check_auth(name.path)
        client.check_push(name.path)
    finally:
        client.close()


@dataclass(frozen=True)
class TagsNow:
    """Where each tag points in one repository (None: absent), and the tag set the
    never-backwards rule leaves (None when there was no tag set or version to judge)."""

    digests: dict[str, str | None]
    judged: TagSet | None


def tags_now(
    name: ImageName, tags: Sequence[str], client_for: ClientFactory,
    tag_set: TagSet | None = None, version: ReleaseVersion | None = None,
) -> TagsNow:
    """One HEAD per tag; with a tag set and version, the published releases judge the aliases."""
    client = client_for(name)
    try:
        digests: dict[str, str | None] = {}
        for tag in tags:
            head = client.head_manifest(name.path, tag)
            digests[tag] = head.digest if head else None
        judged = None
        if tag_set is not None and version is not None:
            published = read_published(client, name.path, version, tag_set.aliases)
            judged = guard(tag_set, version, published)
        return TagsNow(digests, judged)
    finally:
        client.close()
