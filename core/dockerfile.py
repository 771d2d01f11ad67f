"""The one reader of Dockerfiles: stages, ARG/ENV scoping, variable expansion and COPY sources.

Copy mode has to know, per platform, which context paths a build reads, and the templates are
checked by the stage graph they declare; both need the Dockerfile the way BuildKit and buildah
read it, not a regex over lines: continuation lines, comments inside them, heredoc bodies that
are not instructions, the ``# escape=`` directive, JSON and shell forms, and ARGs that are only
visible in a stage that (re-)declares them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core import paths
from core.errors import DockerfileError
from core.platforms import Platform

MAX_BYTES = 1024 * 1024  # a Dockerfile is kilobytes; a FIFO or /dev/zero must not be read

#: The platform ARGs BuildKit and buildah set for every build.
PLATFORM_ARGS = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class Heredoc:
    """An inline file (``<<EOF``): its name and body; never a path of the build context."""

    name: str
    body: str


@dataclass(frozen=True)
class Instruction:
    """One instruction with its continuation lines joined; ``text`` is how it is shown."""

    line: int
    keyword: str
    args: str
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.args}".strip()

    def flags(self) -> dict[str, str]:
        """The ``--name=value`` flags before the arguments (``--link`` alone gives "")."""
        found: dict[str, str] = {}
        for word in _words(self.args):
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            found[name] = value
        return found


@dataclass(frozen=True)
class Copy:
    """A COPY or ADD: its sources as written (unexpanded), destination and flags."""

    instruction: Instruction
    sources: tuple[str, ...]
    destination: str
    from_stage: str | None
    heredoc_sources: tuple[str, ...] = ()

    @property
    def line(self) -> int:
        return self.instruction.line

    @property
    def text(self) -> str:
        return self.instruction.text


@dataclass
class Stage:
    """A build stage: its FROM, the ARGs and ENVs it declares, and its COPY/ADD instructions."""

    index: int
    base: str
    name: str | None
    platform: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or str(self.index)

    @property
    def copies(self) -> list[Copy]:
        return [copy for i in self.instructions if (copy := _copy(i)) is not None]

    def mounts_from(self) -> list[str]:
        """Stages or images named by ``RUN --mount=...,from=X``."""
        found = []
        for instruction in self.instructions:
            if instruction.keyword != "RUN":
                continue
            for word in _words(instruction.args):
                if not word.startswith("--mount="):
                    continue
                for part in word[len("--mount="):].split(","):
                    key, _, value = part.partition("=")
                    if key == "from":
                        found.append(value)
        return found


@dataclass
class Dockerfile:
    path: Path
    escape: str
    global_args: list[tuple[str, str | None]]
    stages: list[Stage]

    def stage(self, ref: str) -> Stage | None:
        """The stage called ``ref`` (a name or an index), None for an image."""
        for stage in self.stages:
            if stage.name is not None and stage.name.lower() == ref.lower():
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def base_stage(self, stage: Stage, platform: Platform | None = None) -> Stage | None:
        """The earlier stage this one is built FROM, if it names one."""
        base = expand(stage.base, self.global_env(platform, {})).text
        found = self.stage(base)
        return found if found is not None and found.index < stage.index else None

    def target(self, name: str | None = None) -> Stage:
        """The stage a build produces: ``--target`` or the last one."""
        if not self.stages:
            raise DockerfileError(f"{self.path} has no FROM instruction", "start a stage with FROM")
        if name is None:
            return self.stages[-1]
        found = self.stage(name)
        if found is None:
            names = ", ".join(s.name for s in self.stages if s.name) or "none"
            raise DockerfileError(
                f"{self.path} has no stage {name!r}", f"stages: {names}", field="target"
            )
        return found

    def dependencies(self, stage: Stage) -> list[Stage]:
        """The stages ``stage`` reads from: its FROM, ``COPY --from`` and ``RUN --mount from``."""
        refs = [stage.base, *(c.from_stage for c in stage.copies if c.from_stage)]
        refs += stage.mounts_from()
        found: list[Stage] = []
        for ref in refs:
            other = self.stage(expand(ref, self.global_env(None, {})).text)
            if other is not None and other.index < stage.index and other not in found:
                found.append(other)
        return found

    def reachable(self, target: str | None = None) -> list[Stage]:
        """The stages a build of ``target`` runs, in file order (unused stages are skipped)."""
        seen: dict[int, Stage] = {}
        todo = [self.target(target)]
        while todo:
            stage = todo.pop()
            if stage.index in seen:
                continue
            seen[stage.index] = stage
            todo.extend(self.dependencies(stage))
        return [seen[index] for index in sorted(seen)]

    def global_env(
        self, platform: Platform | None, build_args: Mapping[str, str]
    ) -> dict[str, str]:
        """What FROM lines see: the global ARGs and the automatic platform ARGs."""
        env = platform_args(platform) if platform else {}
        for name, default in self.global_args:
            if name in build_args:
                env[name] = build_args[name]
            elif name not in env and default is not None:
                env[name] = expand(default, env).text
        return env

    def stage_env(
        self, stage: Stage, upto: Instruction | None, platform: Platform | None,
        build_args: Mapping[str, str],
    ) -> dict[str, str]:
        """The variables visible in ``stage`` just before ``upto``: ARGs declared in the stage
        (a global ARG re-declared without a value keeps its global value), platform ARGs only
        when declared, and ENV (inherited from a base stage)."""
        global_env = self.global_env(platform, build_args)
        automatic = platform_args(platform) if platform else {}
        base = self.base_stage(stage, platform)
        env = self._env_of(base, platform, build_args) if base is not None else {}
        for instruction in stage.instructions:
            if instruction is upto:
                break
            if instruction.keyword == "ARG":
                for name, default in parse_arg(instruction.args):
                    if name in build_args:
                        env[name] = build_args[name]
                    elif name in automatic:
                        env[name] = automatic[name]
                    elif default is not None:
                        env[name] = expand(default, env).text
                    elif name in global_env:
                        env[name] = global_env[name]
            elif instruction.keyword == "ENV":
                for name, value in parse_env(instruction.args):
                    env[name] = expand(value, env).text
        return env

    def _env_of(
        self, stage: Stage, platform: Platform | None, build_args: Mapping[str, str]
    ) -> dict[str, str]:
        """Only ENV carries over to a stage built FROM another stage."""
        full = self.stage_env(stage, None, platform, build_args)
        env_names = {
            name for i in stage.instructions if i.keyword == "ENV" for name, _ in parse_env(i.args)
        }
        inherited = {}
        base = self.base_stage(stage, platform)
        if base is not None:
            inherited = self._env_of(base, platform, build_args)
        return {**inherited, **{k: v for k, v in full.items() if k in env_names}}


def platform_args(platform: Platform) -> dict[str, str]:
    """The values BuildKit and buildah give the automatic platform ARGs."""
    return {
        "TARGETPLATFORM": str(platform),
        "TARGETOS": platform.os,
        "TARGETARCH": platform.targetarch,
        "TARGETVARIANT": platform.targetvariant,
    }


@dataclass(frozen=True)
class Expanded:
    """An expanded word and the variables it read (set or not)."""

    text: str
    used: frozenset[str]


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> Expanded:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``
    and ``${VAR+alt}`` as the Dockerfile shell lexer does; an escaped ``$`` stays literal and
    an unset variable expands to nothing."""
    out: list[str] = []
    used: set[str] = set()
    index = 0
    while index < len(word):
        char = word[index]
        if char == escape and index + 1 < len(word) and word[index + 1] == "$":
            out.append("$")
            index += 2
            continue
        if char != "$":
            out.append(char)
            index += 1
            continue
        if word.startswith("${", index):
            end = _closing_brace(word, index + 2)
            if end < 0:
                raise DockerfileError(f"unterminated ${{ in {word!r}", "close it with }")
            out.append(_braced(word[index + 2 : end], env, used, escape))
            index = end + 1
            continue
        match = _NAME.match(word, index + 1)
        if match is None:
            out.append("$")
            index += 1
            continue
        used.add(match.group())
        out.append(env.get(match.group(), ""))
        index = match.end()
    return Expanded("".join(out), frozenset(used))


def _closing_brace(word: str, start: int) -> int:
    depth = 1
    for index in range(start, len(word)):
        if word[index] == "{":
            depth += 1
        elif word[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _braced(inner: str, env: Mapping[str, str], used: set[str], escape: str) -> str:
    match = _NAME.match(inner)
    if match is None:
        raise DockerfileError(f"${{{inner}}} is not a variable", "write ${NAME}")
    name, rest = match.group(), inner[match.end():]
    used.add(name)
    value = env.get(name)
    for operator in (":-", ":+", "-", "+"):
        if rest.startswith(operator):
            nested = expand(rest[len(operator):], env, escape)
            set_ = bool(value) if operator.startswith(":") else value is not None
            if operator.endswith("-"):
                if set_:
                    return value or ""
                used.update(nested.used)
                return nested.text
            if set_:
                used.update(nested.used)
                return nested.text
            return ""
    if rest:
        raise DockerfileError(
            f"${{{inner}}} uses a modifier dockyard does not read",
            "use ${NAME}, ${NAME:-default} or ${NAME:+alternative}",
        )
    return value or ""


def parse_arg(args: str) -> list[tuple[str, str | None]]:
    """``ARG A B=1`` → ``[("A", None), ("B", "1")]``."""
    result: list[tuple[str, str | None]] = []
    for word in _words(args):
        name, sep, value = word.partition("=")
        result.append((name, _unquote(value) if sep else None))
    return result


def parse_env(args: str) -> list[tuple[str, str]]:
    """``ENV A=1 B=2`` or the legacy ``ENV A 1``."""
    words = _words(args)
    if words and "=" not in words[0]:
        return [(words[0], args.split(None, 1)[1].strip() if len(words) > 1 else "")]
    return [(name, _unquote(value)) for name, _, value in (w.partition("=") for w in words)]


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _words(args: str) -> list[str]:
    """Split on whitespace outside quotes, keeping the quotes (the lexer strips them later)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    for char in args:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _copy(instruction: Instruction) -> Copy | None:
    if instruction.keyword not in ("COPY", "ADD"):
        return None
    flags = instruction.flags()
    rest = [w for w in _words(instruction.args) if not w.startswith("--")]
    body = instruction.args
    while body.startswith("--"):
        body = body.split(None, 1)[1] if len(body.split(None, 1)) > 1 else ""
    items: list[str] | None = None
    if body.startswith("["):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            items = [str(item) for item in parsed]
    if items is None:
        items = [_unquote(word) for word in rest]
    if not items:
        return None
    heredoc_names = {doc.name for doc in instruction.heredocs}
    sources, inline = [], []
    for item in items[:-1]:
        match = _HEREDOC.fullmatch(item)
        if match is not None and match.group(3) in heredoc_names:
            inline.append(match.group(3))
        else:
            sources.append(item)
    return Copy(instruction, tuple(sources), items[-1], flags.get("from") or None, tuple(inline))


def read_dockerfile(path: Path) -> Dockerfile:
    """Read and parse ``path``: a regular file (never a FIFO or device), at most 1 MiB, UTF-8;
    anything else is a one-line DockerfileError."""
    data = paths.read_regular(path, str(path), MAX_BYTES, DockerfileError,
                              missing="create it or pass --dockerfile PATH")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DockerfileError(f"{path} is not UTF-8 text", "save it as UTF-8") from None
    return parse_dockerfile(text, path)


def stage_names(dockerfile: Dockerfile) -> list[str]:
    """The named stages (``FROM image AS name``), lowercased as BuildKit compares them."""
    return [stage.name.lower() for stage in dockerfile.stages if stage.name]


def parse_dockerfile(text: str, path: Path = Path("Dockerfile")) -> Dockerfile:
    escape = _escape_char(text)
    global_args: list[tuple[str, str | None]] = []
    stages: list[Stage] = []
    for instruction in _instructions(text, escape):
        if instruction.keyword == "FROM":
            stages.append(_stage(len(stages), instruction, path))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            global_args.extend(parse_arg(instruction.args))
        else:
            raise DockerfileError(
                f"{path}:{instruction.line}: {instruction.keyword} comes before the first FROM",
                "only ARG may come before FROM",
            )
    return Dockerfile(path, escape, global_args, stages)


def _stage(index: int, instruction: Instruction, path: Path) -> Stage:
    platform = instruction.flags().get("platform")
    words = [w for w in _words(instruction.args) if not w.startswith("--")]
    if not words or len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise DockerfileError(
            f"{path}:{instruction.line}: {instruction.text!r} is not a FROM line",
            "write FROM [--platform=P] IMAGE [AS NAME]",
        )
    return Stage(index, words[0], words[2] if len(words) == 3 else None, platform,
                 instruction.line)


def _escape_char(text: str) -> str:
    """The ``# escape=`` parser directive (Windows Dockerfiles use a backtick)."""
    for line in text.splitlines():
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match.group(1).lower() == "escape":
            return match.group(2)
    return "\\"


def _instructions(text: str, escape: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comment and blank lines inside a
    continuation are dropped, and heredoc bodies are read as data, as BuildKit does."""
    lines = text.splitlines()
    result: list[Instruction] = []
    parts: list[str] = []
    start = 0
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        body = raw.rstrip()
        if body.endswith(escape):
            parts.append(body[: -len(escape)])
            continue
        parts.append(body)
        joined = "".join(parts)
        parts = []
        words = joined.split(None, 1)
        keyword = words[0].upper()
        args = words[1].strip() if len(words) > 1 else ""
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_KEYWORDS:
            for match in _HEREDOC.finditer(args):
                body_lines: list[str] = []
                while number < len(lines):
                    line = lines[number]
                    number += 1
                    if (line.lstrip("\t") if match.group(1) else line) == match.group(3):
                        break
                    body_lines.append(line.lstrip("\t") if match.group(1) else line)
                heredocs.append(Heredoc(match.group(3), "\n".join(body_lines) + "\n"))
        result.append(Instruction(start, keyword, args, tuple(heredocs)))
    last = "".join(parts).split(None, 1)
    if last:
        result.append(Instruction(start, last[0].upper(), last[1] if len(last) > 1 else ""))
    return result


def require_platform_copy(path: Path) -> Dockerfile:
    """Refuse a Dockerfile whose COPY/ADD would put the same file into every platform's image.

    Some COPY or ADD source must use ``$TARGETARCH`` or ``$TARGETPLATFORM`` in a stage that
    declares that ``ARG``: without the declaration the variable expands to nothing.
    """
    parsed = read_dockerfile(path)
    telling = {"TARGETARCH", "TARGETPLATFORM"}
    undeclared: tuple[int, str, str] | None = None
    for stage in parsed.stages:
        declared: set[str] = set()
        for instruction in stage.instructions:
            if instruction.keyword == "ARG":
                declared.update(name for name, _ in parse_arg(instruction.args))
            copy = _copy(instruction)
            if copy is None or copy.from_stage is not None:
                continue
            used = set().union(*(expand(s, {}, parsed.escape).used for s in copy.sources))
            used &= telling
            if used & declared:
                return parsed
            if used and undeclared is None:
                undeclared = (copy.line, copy.instruction.keyword, sorted(used)[0])
    if undeclared is not None:
        line, keyword, name = undeclared
        raise DockerfileError(
            f"{path}:{line}: {keyword} uses ${name} but its stage does not declare "
            f"ARG {name}, so it expands to nothing",
            f"add `ARG {name}` after that stage's FROM",
        )
    raise DockerfileError(
        f"{path}: no COPY or ADD uses $TARGETARCH, so every platform would get the same binary",
        "declare `ARG TARGETARCH` in the stage and copy e.g. `COPY dist/${TARGETARCH}/app /app`",
    )
