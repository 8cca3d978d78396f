"""Model URIs: `name` (the latest version), `name:N` (version N), `name@alias` (`name@latest` is the latest).

One rule, applied wherever a URI, name, alias or version is read (Python, the CLI, the server): a name follows
nbmlops.names (it becomes part of paths), a version is a whole number from 1 to MAX_VERSION written without
leading zeros or signs, and nothing is trimmed: `" churn"`, `churn: 1` and `churn:01` are errors, not other
spellings of `churn` and `churn:1` (a URI in a config file that only matches after trimming is a typo waiting to
point at something else). MLflow's `models:/name/3` and `models:/name@alias` are read as `name:3`, `name@alias`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbmlops.names import name_problem
from nbmlops.registry.errors import RegistryError

ALIAS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,99}")
VERSION_RE = re.compile(r"[1-9][0-9]{0,9}")
MAX_VERSION = 2**31 - 1  # the version columns are 32-bit integers on PostgreSQL
LATEST = "latest"  # a reserved alias: always the newest version
FORMS = "NAME, NAME:VERSION or NAME@ALIAS (e.g. churn, churn:3, churn@production)"


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise RegistryError(f"'{_shown(name)}' is not a valid model name: it {problem}")
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
        raise RegistryError(
            f"'{_shown(alias)}' is not a valid alias: 1 to 100 letters, digits, '_', '.', '-' "
            "(starting with a letter or '_', so it can't be mistaken for a version number)"
        )
    return alias


def parse_version(text: str | int, uri: object = None) -> int:
    """A version number from an int or its decimal text (`3`, never ` 3`, `03` or `+3`), 1 to MAX_VERSION."""
    where = f" in '{_shown(uri)}'" if uri is not None else ""
    if isinstance(text, bool):
        raise RegistryError(f"'{text}'{where} is not a model version (a whole number from 1)")
    if isinstance(text, int):
        number = text
    elif isinstance(text, str) and VERSION_RE.fullmatch(text):
        number = int(text)
    elif isinstance(text, str) and text.isascii() and text.isdigit():
        if not text.strip("0"):
            raise RegistryError(f"model versions start at 1, got '{_shown(text)}'{where}")
        if text.startswith("0"):
            raise RegistryError(f"'{_shown(text)}'{where} is not a model version: write it without leading zeros")
        raise RegistryError(f"model version {_shown(text)}{where} is out of range: versions are 1 to {MAX_VERSION:,}")
    else:
        raise RegistryError(f"'{_shown(text)}'{where} is not a model version (a whole number from 1); expected {FORMS}")
    if number < 1:
        raise RegistryError(f"model versions start at 1, got {number}{where}")
    if number > MAX_VERSION:
        raise RegistryError(
            f"model version {_shown(str(number))}{where} is out of range: versions are 1 to {MAX_VERSION:,}"
        )
    return number


def parse_uri(uri: str) -> ModelRef:
    """Split a model URI into name and version or alias; a malformed one raises RegistryError."""
    if not isinstance(uri, str) or not uri:
        raise RegistryError(f"empty model URI: expected {FORMS}")
    if uri != uri.strip() or any(c.isspace() for c in uri):
        raise RegistryError(
            f"'{_shown(uri)}' is not a valid model name or URI: it holds spaces (nothing is trimmed); expected {FORMS}"
        )
    text = uri
    if text.startswith("models:/"):  # MLflow's spelling, for people moving over: models:/name/3, models:/name@a
        rest = text[len("models:/") :]
        text = rest.replace("/", ":", 1) if "/" in rest else rest
    if ":" in text and "@" in text:
        raise RegistryError(f"'{_shown(uri)}' names both a version and an alias: expected {FORMS}")
    if ":" in text:
        name, _, version = text.partition(":")
        return ModelRef(_name_in(name, uri), version=parse_version(version, uri))
    if "@" in text:
        name, _, alias = text.partition("@")
        if not alias:
            raise RegistryError(f"'{_shown(uri)}' has an empty alias: expected {FORMS}")
        return ModelRef(_name_in(name, uri), alias=check_alias(alias))
    return ModelRef(_name_in(text, uri))


def _name_in(name: str, uri: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise RegistryError(
            f"'{_shown(uri)}': '{_shown(name)}' is not a valid model name (it {problem}); expected {FORMS}"
        )
    return name
