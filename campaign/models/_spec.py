"""Declarations every model makes about itself: its design parameters, sampled inputs and outputs.

A model module declares each name exactly once, with its unit, bounds and meaning. The configuration layer
builds its validation schema from these declarations and the YAML files in ``conf/`` hold the values (with
their sources), so no default lives in two places. Nothing here imports Ray, Hydra or pyarrow.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import jax

Array = jax.Array


@dataclass(frozen=True)
class Param:
    """A design value: fixed within a campaign, swept across campaigns (passed to the model as an array,
    so a sweep does not recompile).

    ``ge``/``gt``/``le``/``lt`` are inclusive/exclusive bounds checked when the config is loaded.
    """

    name: str
    unit: str
    doc: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    integer: bool = False

    def violation(self, value: float) -> str | None:
        """Return a message if ``value`` breaks a bound, else None."""
        if not math.isfinite(value):
            return "must be a finite number"
        if self.integer and value != int(value):
            return "must be a whole number"
        checks = (
            (self.ge, lambda b: value >= b, ">="),
            (self.gt, lambda b: value > b, ">"),
            (self.le, lambda b: value <= b, "<="),
            (self.lt, lambda b: value < b, "<"),
        )
        for bound, ok, sym in checks:
            if bound is not None and not ok(bound):
                return f"must be {sym} {bound:g}"
        return None


@dataclass(frozen=True)
class Input:
    """An uncertain input: its distribution (and whether it is aleatory or epistemic) comes from the config.

    ``support`` optionally restricts the values the distribution may produce (checked at config load), e.g.
    a probability must lie in [0, 1].
    """

    name: str
    unit: str
    doc: str
    support: tuple[float, float] = (-math.inf, math.inf)


class Kind(enum.Enum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"


@dataclass(frozen=True)
class Output:
    """A per-mission output column.

    ``role`` is ``"phase"`` for a phase-success flag, ``"goal"`` for a goal flag and ``"metric"`` otherwise.
    ``valid_when`` names a boolean output: where it is false the value is meaningless (the phase was never
    reached) and the store writes null.
    """

    name: str
    kind: Kind
    unit: str
    doc: str
    role: str = "metric"
    valid_when: str | None = None


@dataclass(frozen=True)
class Section:
    """The part of a mission's config belonging to one physical model (``mission.<name>``)."""

    name: str
    params: tuple[Param, ...]
    inputs: tuple[Input, ...]


SimulateFn = Callable[[Mapping[str, Array], Mapping[str, Array], Array], dict[str, Array]]


@dataclass(frozen=True)
class MissionModel:
    """A per-mission simulation: ``simulate(params, inputs, key) -> outputs``.

    ``params`` maps ``"<section>.<param>"`` to scalars, ``inputs`` maps ``"<section>.<input>"`` to scalars,
    ``key`` is the mission's own PRNG key (derive sub-keys with ``fold_in`` and a distinct tag per purpose).
    ``outputs`` must contain every declared output plus ``"outcome"`` (an :class:`Outcome` code). The function is
    written for one mission; the engine applies ``jit(vmap(...))`` once.
    """

    name: str
    doc: str
    sections: tuple[Section, ...]
    outputs: tuple[Output, ...]
    simulate: SimulateFn = field(repr=False)

    def __post_init__(self) -> None:
        names = [o.name for o in self.outputs]
        if len(set(names)) != len(names) or "outcome" in names:
            raise ValueError(f"{self.name}: output names must be unique and not 'outcome': {names}")
        flags = {o.name for o in self.outputs if o.kind is Kind.BOOL}
        for o in self.outputs:
            if o.valid_when is not None and o.valid_when not in flags:
                raise ValueError(f"{self.name}.{o.name}: valid_when={o.valid_when!r} is not a boolean output")
            if o.role in ("phase", "goal") and o.kind is not Kind.BOOL:
                raise ValueError(f"{self.name}.{o.name}: a {o.role} flag must be boolean")

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)
