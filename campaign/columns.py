"""The vocabulary of a campaign's dataset, shared by the store (which writes it) and the analysis (which reads it).

A :class:`Column` says what the store needs to write one Parquet field: its kind, its nullability and the field
metadata (role, unit, doc, ...). The columns of a campaign are produced from the model declarations by
:func:`campaign.declarations.dataset_columns`; this module imports neither the models nor pyarrow, so the store and
the analysis stay below the models.

:data:`COLUMN_ROLES` lists the meanings that particular analyses and plots need (the touchdown offsets, the days
survived, ...), asked for by what they mean rather than by a model's column name.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("index", "code", "label", "real", "int", "bool")


@dataclass(frozen=True)
class Column:
    """One column of a campaign's dataset.

    ``kind``: ``index`` (int64), ``code`` (int16), ``label`` (a dictionary of strings naming ``source // divisor``,
    ``labels`` giving ``(code, name)`` in dictionary order), ``real`` (the campaign's float), ``int`` (int32) or
    ``bool``. ``valid_when`` names a boolean column: where it is false the value is null (and only then is the
    field nullable). ``role``, ``unit``, ``doc``, then ``extra`` and ``valid_when`` become the field metadata, in
    that order, empty values left out.
    """

    name: str
    kind: str
    doc: str
    role: str = ""
    unit: str = ""
    valid_when: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[int, str], ...] = ()
    source: str = ""
    divisor: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.kind == "label") != bool(self.labels and self.source):
            raise ValueError(f"column {self.name!r}: a label column needs labels and a source, and only it has them")

    @property
    def nullable(self) -> bool:
        return self.valid_when is not None

    def metadata(self) -> dict[str, str]:
        """The field metadata: role, unit, doc, the extra pairs, valid_when (empty values left out)."""
        pairs = [
            ("role", self.role),
            ("unit", self.unit),
            ("doc", self.doc),
            *self.extra,
            ("valid_when", self.valid_when),
        ]
        return {k: str(v) for k, v in pairs if v not in (None, "")}


# The meanings the analysis asks for, and the column that carries each in the models of campaign.models. The
# models declare them on their outputs (Output.meaning); the store records a campaign's in the dataset's metadata
# (COLUMN_ROLES_KEY of the b"lupex" file metadata, and run.json). This table is what a dataset written before
# meanings were recorded falls back to (tests/test_loading.py checks it against the declarations).
COLUMN_ROLES: dict[str, str] = {
    "landing_success": "landing_ok",  # flag: touched down intact, upright, within limits
    "landing_physics_success": "landing_physics_ok",  # ... by the physics alone, before the record-based fault term
    "ascent_reliability": "ascent_reliability_used",  # the launch's reliability under the prior in use
    "touchdown_downrange": "landing_downrange_m",  # touchdown offset from the target along the track
    "touchdown_crossrange": "landing_crossrange_m",  # ... and across it
    "miss_distance": "miss_distance_m",  # distance of the touchdown from the target
    "touchdown_vertical_speed": "touchdown_vertical_speed_mps",
    "touchdown_horizontal_speed": "touchdown_horizontal_speed_mps",
    "altimeter_fault": "altimeter_fault",  # flags of what happened on the way down
    "engine_out": "engine_out",
    "hazard_divert": "diverted",
    "survival_days": "days_survived",  # days on the surface until lost (or the stay's end)
    "landing_date": "landing_day",  # landing time, days after the window opened
    "night_energy_margin": "worst_night_energy_margin_wh",  # worst night's battery energy margin
}
COLUMN_ROLES_KEY = "column_roles"
