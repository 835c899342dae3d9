"""What a worker needs to evaluate any shard of a campaign: plain, picklable data (no engine, no Ray).

:class:`CampaignSpec` is built from a validated configuration (:meth:`campaign.config.CampaignConfig.spec`) and
evaluated by :mod:`campaign.engine`; keeping it here lets the configuration layer describe a campaign without
importing the engine that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from .distributions import Level
from .models import MODELS, MissionModel
from .sampling import SamplerKind, Variable


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a worker needs to evaluate any shard of a campaign (plain, picklable data)."""

    model: str
    params: tuple[tuple[str, object], ...]  # numbers and flags keyed "<section>.<name>" (CampaignConfig.numeric_params)
    tables: object  # what the model's prepare computed (its NamedTuple of arrays), or None
    variables: tuple[Variable, ...]
    sampler: SamplerKind
    seed: int
    samples: int
    inner_samples: int
    shard_size: int
    batch_size: int
    precision: str = "float64"

    def __post_init__(self) -> None:
        if self.shard_size % self.batch_size:
            raise ValueError(f"shard size {self.shard_size} is not a multiple of the batch size {self.batch_size}")

    @property
    def dtype(self):
        return campaign_dtype(self.precision)

    @property
    def mission_model(self) -> MissionModel:
        return MODELS[self.model]

    def of_level(self, level: Level) -> tuple[Variable, ...]:
        return tuple(v for v in self.variables if v.level is level)


def campaign_dtype(precision: str):
    """The float type of a campaign's inputs, parameters and outputs: float32 only for ``float32``; ``mixed`` is
    float64 but for the surface mission's time loop (:meth:`campaign.models.MissionModel.simulator`)."""
    return jnp.float32 if precision == "float32" else jnp.float64


def enables_x64(precision: str) -> bool:
    """Whether a process running a campaign of ``precision`` needs JAX's 64-bit types."""
    return campaign_dtype(precision) == jnp.float64
