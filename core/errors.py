"""One error family, so every front end can show ``field: problem; what is valid`` in one line."""

from __future__ import annotations


class DockyardError(Exception):
    """A problem the user can act on: names the field, what is wrong and what would be valid."""

    field = "dockyard"

    def __init__(self, problem: str, valid: str = "", *, field: str | None = None) -> None:
        if field is not None:
            self.field = field
        self.problem = _one_line(problem)
        self.valid = _one_line(valid)
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.field}: {self.problem}"
        return f"{text}; {self.valid}" if self.valid else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


class VersionError(DockyardError):
    field = "tag"


class RepoError(DockyardError):
    field = "repo"


class TagPolicyError(DockyardError):
    field = "tags"


class PlatformError(DockyardError):
    field = "platform"


class ImageRefError(DockyardError):
    """Bad image reference."""

    field = "image"


class BinaryError(DockyardError):
    field = "binary"


class DockerfileError(DockyardError):
    field = "dockerfile"


class ConfigError(DockyardError):
    field = "config"


class ModeError(DockyardError):
    field = "mode"


class RegistryError(DockyardError):
    field = "registry"


class EngineError(DockyardError):
    field = "engine"


class CredentialError(DockyardError):
    field = "credentials"


class VerifyError(DockyardError):
    field = "verify"


class PublishError(DockyardError):
    field = "publish"
