"""Registry errors: every one is an NbmlopsError, so the CLI prints it as one line and exits 2."""

from __future__ import annotations

from nbmlops.errors import NbmlopsError


class RegistryError(NbmlopsError):
    """An unknown model, version or alias, a malformed model URI, or a model that can't be registered."""


class ModelIntegrityError(RegistryError):
    """A model's stored bytes no longer hash to what the registry recorded: it is refused, nothing is loaded."""
