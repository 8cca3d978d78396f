"""Settings: environment variables over `nbmlops.toml` over defaults inside the project home."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from nbmlops.errors import NbmlopsError
from nbmlops.store.home import project_home

CONFIG_FILE = "nbmlops.toml"
# toml key -> environment variable that overrides it
KEYS = {
    "db_url": "NBMLOPS_DB_URL",
    "artifact_root": "NBMLOPS_ARTIFACT_ROOT",
    "ray_address": "NBMLOPS_RAY_ADDRESS",
    "online_store": "NBMLOPS_ONLINE_STORE",
}


class ConfigError(NbmlopsError):
    """An nbmlops.toml that doesn't parse, or holds a key nbmlops doesn't know."""


class Settings(NamedTuple):  # not a frozen dataclass: that costs ~1.5 ms to create at import
    home: Path
    db_url: str
    artifact_root: str
    ray_address: str | None = None
    online_store: str | None = None  # the feature store's online store: sqlite:///PATH or redis://HOST:PORT/DB
    sources: tuple[str, ...] = ()  # the toml files that were read, for messages and `nbmlops config`


def config_files(home: Path) -> list[Path]:
    """Where nbmlops.toml may live: beside `.nbmlops/` (committed with the project), then inside it."""
    return [p for p in (home.parent / CONFIG_FILE, home / CONFIG_FILE) if p.is_file()]


def _read_toml(path: Path) -> dict[str, str]:
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    # Keys may sit at the top level or under [nbmlops] / [store]: both read naturally in a shared file.
    table: dict[str, object] = {}
    for key, value in data.items():
        if key in ("nbmlops", "store") and isinstance(value, dict):
            table.update(value)
        else:
            table[key] = value
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key '{key}' (known: {', '.join(KEYS)})")
        if not isinstance(value, str):
            raise ConfigError(f"{path}: key '{key}' must be a string, got {type(value).__name__}")
        out[key] = value
    return out


def load_settings(home: str | Path | None = None) -> Settings:
    """Settings for the project whose home is `home` (found from the working directory by default)."""
    home_path = Path(home).expanduser().resolve() if home else project_home()
    home_path.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    files = config_files(home_path)
    for path in files:  # later files win: the home's own toml overrides the project one
        values.update(_read_toml(path))
    for key, env in KEYS.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    artifact_root = values.get("artifact_root") or str(home_path / "artifacts")
    if "://" not in artifact_root and not Path(artifact_root).expanduser().is_absolute():
        # relative paths in the toml mean "relative to the project", not to wherever the user stands
        artifact_root = str((home_path.parent / artifact_root).resolve())
    return Settings(
        home=home_path,
        db_url=values.get("db_url") or f"sqlite:///{home_path / 'nbmlops.db'}",
        artifact_root=artifact_root,
        ray_address=values.get("ray_address"),
        online_store=values.get("online_store"),
        sources=tuple(str(p) for p in files),
    )
