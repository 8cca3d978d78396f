"""Model URIs: `name` (the latest version), `name:N` (version N), `name@alias` (`name@latest` is the latest)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbmlops.registry.errors import RegistryError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")
ALIAS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,254}")
LATEST = "latest"  # a reserved alias: always the newest version
FORMS = "NAME, NAME:VERSION or NAME@ALIAS (e.g. churn, churn:3, churn@production)"


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
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise RegistryError(f"'{name}' is not a valid model name: letters, digits, '_', '.', '-' "
                            "(starting with a letter or digit)")
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
        raise RegistryError(f"'{alias}' is not a valid alias: letters, digits, '_', '.', '-' (starting with a "
                            "letter or '_', so it can't be mistaken for a version number)")
    return alias


def parse_version(text: str | int, uri: object = None) -> int:
    if isinstance(text, bool):
        raise RegistryError(f"'{text}' is not a model version (a positive integer)")
    if isinstance(text, int):
        number = text
    elif isinstance(text, str) and text.strip().isdigit():
        number = int(text.strip())
    else:
        where = f" in '{uri}'" if uri is not None else ""
        raise RegistryError(f"'{text}'{where} is not a model version (a positive integer); expected {FORMS}")
    if number < 1:
        raise RegistryError(f"model versions start at 1, got {number}")
    return number


def parse_uri(uri: str) -> ModelRef:
    """Split a model URI into name and version or alias; a malformed one raises RegistryError."""
    if not isinstance(uri, str) or not uri.strip():
        raise RegistryError(f"empty model URI: expected {FORMS}")
    text = uri.strip()
    if text.startswith("models:/"):  # MLflow's spelling, for people moving over: models:/name/3, models:/name@a
        rest = text[len("models:/"):]
        text = rest.replace("/", ":", 1) if "/" in rest else rest
    if ":" in text and "@" in text:
        raise RegistryError(f"'{uri}' names both a version and an alias: expected {FORMS}")
    if ":" in text:
        name, _, version = text.partition(":")
        return ModelRef(_name_in(name, uri), version=parse_version(version, uri))
    if "@" in text:
        name, _, alias = text.partition("@")
        if not alias:
            raise RegistryError(f"'{uri}' has an empty alias: expected {FORMS}")
        return ModelRef(_name_in(name, uri), alias=check_alias(alias))
    return ModelRef(_name_in(text, uri))


def _name_in(name: str, uri: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise RegistryError(f"'{uri}' is not a model URI: '{name}' is not a valid model name; expected {FORMS}")
    return name
