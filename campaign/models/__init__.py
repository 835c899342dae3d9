"""Physical models, one module per model, pure JAX (no Ray, Hydra or pyarrow).

``MODELS`` maps the name used in ``mission.model`` to a :class:`MissionModel`.
"""

from ._spec import Input, Kind, MissionModel, Output, Param, Section
from .landing import MODEL as LANDING
from .launch import MODEL as LAUNCH
from .mission import MODEL as MISSION
from .night_survival import MODEL as NIGHT_SURVIVAL
from .outcomes import Outcome, Phase
from .surface import MODEL as SURFACE

MODELS: dict[str, MissionModel] = {m.name: m for m in (LAUNCH, LANDING, NIGHT_SURVIVAL, SURFACE, MISSION)}

__all__ = ["MODELS", "Input", "Kind", "MissionModel", "Outcome", "Output", "Param", "Phase", "Section"]
