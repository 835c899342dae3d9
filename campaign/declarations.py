"""A campaign's dataset columns and column roles, produced from the model declarations (the only module between
the models and the store's plain :class:`campaign.columns.Column` specifications)."""

from __future__ import annotations

from collections.abc import Iterable

from .columns import Column
from .models import Kind, MissionModel
from .models.outcomes import Outcome, Phase

_KINDS = {Kind.FLOAT: "real", Kind.INT: "int", Kind.BOOL: "bool"}


def dataset_columns(model: MissionModel, variables: Iterable) -> tuple[Column, ...]:
    """The columns of a campaign's rows, in file order: the sample index, the sampled inputs (``variables``, each
    declared by a section of ``model``), the outcome code with its name and phase, then the model's outputs."""
    inputs = {f"{s.name}.{i.name}": i for s in model.sections for i in s.inputs}
    columns = [Column("sample_index", "index", "Global index of the sampled mission (its identity)")]
    for v in variables:
        decl = inputs[v.name]
        columns.append(
            Column(
                v.name,
                "real",
                decl.doc,
                role="input",
                unit=decl.unit,
                extra=(("dist", v.kind.value), ("level", v.level.value)),
            )
        )
    columns += [
        Column("outcome", "code", "First failure code (campaign.models.outcomes.Outcome); 0 = success"),
        Column(
            "outcome_name",
            "label",
            "Name of the outcome code",
            source="outcome",
            labels=tuple((int(o), o.name.lower()) for o in Outcome),
        ),
        # an outcome's phase is its code's tens digit (Outcome.phase)
        Column(
            "failed_phase",
            "label",
            "Phase of the first failure ('complete' when none failed)",
            source="outcome",
            divisor=10,
            labels=tuple((int(p), p.name.lower()) for p in Phase),
        ),
    ]
    columns += [
        Column(o.name, _KINDS[o.kind], o.doc, role=o.role, unit=o.unit, valid_when=o.valid_when) for o in model.outputs
    ]
    return tuple(columns)


def column_roles(model: MissionModel) -> dict[str, str]:
    """The meanings ``model``'s outputs declare (``Output.meaning``), mapped to their columns."""
    return {o.meaning: o.name for o in model.outputs if o.meaning}
