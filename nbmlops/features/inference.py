"""Schema inference for feature sets that leave their columns to the data (`"*"`, or no feature list).

The first frame ingested (or pushed) into a version decides its inferred columns: every column other than the
entities, the timestamp and the features the definition declares itself, in the frame's order. They are fixed
in that version from then on, as Feast fixes an inferred schema at `feast apply`: a later frame missing one of
them is an error, and columns a later frame adds are not features (they are neither stored nor checked). To
take new columns in, list the features (a new definition, so a new version).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd

from nbmlops.features.definitions import INFER, FeatureSet, SetSpec
from nbmlops.features.errors import FeatureError


def columns_of(fset: FeatureSet, frame: pd.DataFrame) -> list[str]:
    """The columns `"*"` stands for in this frame."""
    taken = {*fset.entities, fset.timestamp, *fset.feature_names}
    found: list[str] = []
    for column in frame.columns:
        if column in taken:
            continue
        if not isinstance(column, str) or "." in column or "@" in column or not column:
            # a vector names a feature as 'set.feature' (or 'set@v2.feature'): such a name couldn't be read back
            raise FeatureError(
                f"feature set '{fset.name}': column {column!r} can't be an inferred feature name "
                "(use a non-empty string without '.' or '@'), rename it or list the features"
            )
        found.append(column)
    if not found and not fset.feature_names:
        raise FeatureError(
            f"feature set '{fset.name}': no feature columns to infer, the frame holds only "
            f"{', '.join(map(str, frame.columns))}; add columns or list the features"
        )
    return found


def check_present(spec: SetSpec, frame: pd.DataFrame) -> None:
    """A later frame must still hold every column the version inferred; names set, version and column."""
    inferred = spec.inferred or []
    missing = [c for c in inferred if c not in frame.columns]
    if missing:
        raise FeatureError(
            f"feature set '{spec.name}' v{spec.version}: missing column(s) {', '.join(missing)} "
            f"(its features were inferred at its first ingest: {', '.join(inferred)})"
        )


def concrete(fset: FeatureSet, columns: Sequence[str]) -> FeatureSet:
    """The definition with `"*"` replaced by the inferred columns: what the row transformations run."""
    features: list = []
    for item in fset.features:
        if item == INFER:
            features.extend(columns)
        else:
            features.append(item)
    return dataclasses.replace(fset, features=features)
