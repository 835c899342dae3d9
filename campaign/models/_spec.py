"""Declarations every model makes about itself: its design parameters, sampled inputs and outputs.

A model module declares each name exactly once, with its unit, bounds and meaning. The configuration layer
builds its validation schema from these declarations and the YAML files in ``conf/`` hold the values (with
their sources), so no default lives in two places. Nothing here imports Ray, Hydra or pyarrow.
"""

from __future__ import annotations

import collections
import enum
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

Array = jax.Array
# A table that prepare computes: NumPy on the host, a JAX array once the engine hands it to the traced model.
TableArray = np.ndarray | jax.Array


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
    kind: str = "float"  # "float"; "bool"; "floats" (a list, bounds apply to each); "utc" (an ISO 8601 UTC date)

    @property
    def numeric(self) -> bool:
        """Whether the model receives the value as an array (lists and dates reach it only through ``prepare``)."""
        return self.kind in ("float", "bool")

    def violation(self, value) -> str | None:
        """Return a message if ``value`` breaks a bound or does not parse, else None."""
        if self.kind == "utc":
            try:
                np.datetime64(str(value), "s")
            except ValueError:
                return "must be an ISO 8601 UTC date such as 2028-12-01T00:00"
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "floats":
            if not value:
                return "must list at least one value"
            problems = [m for m in (self.violation_of_one(float(v)) for v in value) if m]
            return f"every element {problems[0]}" if problems else None
        return self.violation_of_one(float(value))

    def violation_of_one(self, value: float) -> str | None:
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
    ``meaning`` names what an analysis may ask this column for, whatever the model calls it (``"survival_days"``,
    ``"touchdown_downrange"``: :data:`campaign.columns.COLUMN_ROLES` lists those the analysis uses).
    ``valid_when`` names a boolean output: where it is false the value is meaningless (the phase was never
    reached) and the store writes null.
    """

    name: str
    kind: Kind
    unit: str
    doc: str
    role: str = "metric"
    valid_when: str | None = None
    meaning: str | None = None


@functools.cache
def record(name: str, fields: tuple[str, ...]) -> type:
    """A NamedTuple class (so a JAX pytree) named ``name`` with ``fields``: the typed form of a section's
    parameters or inputs, generated from the declarations so that each name is written once."""
    return collections.namedtuple(name, fields)


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _pick(values: Mapping[str, Any], keys: list[str], what: str) -> list:
    missing = [k for k in keys if k not in values]
    if missing:
        raise KeyError(f"{what} missing: {', '.join(missing)}")
    return [values[k] for k in keys]


def as_dtype(tree, dtype):
    """``tree`` with every floating-point array cast to ``dtype`` (integers and booleans unchanged)."""
    floating = lambda a: jax.numpy.issubdtype(jax.numpy.asarray(a).dtype, jax.numpy.floating)  # noqa: E731
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if floating(a) else a, tree)


@dataclass(frozen=True)
class Section:
    """The part of a mission's config belonging to one physical model (``mission.<name>``)."""

    name: str
    params: tuple[Param, ...]
    inputs: tuple[Input, ...]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name}.{name}")

    def params_of(self, values: Mapping[str, Any]):
        """The section's design values as a typed record (``p.isp_s``) from ``values`` keyed
        ``"<section>.<name>"`` (the configuration's keys); raises ``KeyError`` naming any missing key."""
        names = tuple(p.name for p in self.params if p.numeric)
        cls = record(f"{_camel(self.name)}Params", names)
        return cls(*_pick(values, [f"{self.name}.{n}" for n in names], "design values"))

    def inputs_of(self, values: Mapping[str, Any]):
        """The section's sampled inputs as a typed record (``x.load_factor``), as :meth:`params_of`."""
        names = tuple(i.name for i in self.inputs)
        cls = record(f"{_camel(self.name)}Inputs", names)
        return cls(*_pick(values, [f"{self.name}.{n}" for n in names], "sampled inputs"))


Records = Any  # a NamedTuple of per-section records (see MissionModel.params_of)
SimulateFn = Callable[[Records, Records, Any, Array], dict[str, Array]]
PrepareFn = Callable[[Mapping[str, Any]], Any]
CheckFn = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class MissionModel:
    """A per-mission simulation: ``simulate(p, x, tables, key) -> outputs``.

    ``p`` holds the design values and ``x`` the sampled inputs, one typed record per section generated from the
    declarations (``p.landing.isp_s``, ``x.power.load_factor``: :meth:`params_of`, :meth:`inputs_of`); ``tables``
    is what ``prepare`` computed on the host (the model's own NamedTuple of arrays; None without ``prepare``);
    ``key`` is the mission's own PRNG key (derive sub-keys with ``fold_in`` and a distinct tag per purpose).
    ``outputs`` must contain every declared output plus ``"outcome"`` (an :class:`Outcome` code). The function is
    written for one mission; the engine applies ``jit(vmap(...))`` once.
    """

    name: str
    doc: str
    sections: tuple[Section, ...]
    outputs: tuple[Output, ...]
    simulate: SimulateFn = field(repr=False)
    # Optional host-side precomputation, once per campaign (NumPy, may read data files): takes every design
    # value (``"<section>.<param>"``, dates and lists included) and returns the ``tables`` record.
    prepare: PrepareFn | None = field(default=None, repr=False)
    # Optional cross-field checks of the design values (same argument as ``prepare``), run when the config is
    # loaded: ``(full key, message)`` for every problem, e.g. two lists whose lengths must agree.
    check: CheckFn | None = field(default=None, repr=False)
    # A model with a long time loop that may compute in another precision (``run.precision=mixed``):
    # ``with_loop_dtype(dtype)`` is its ``simulate`` with that loop in ``dtype`` (a static setting, closed over).
    with_loop_dtype: Callable[[Any], SimulateFn] | None = field(default=None, repr=False)

    def simulator(self, loop_dtype=None) -> SimulateFn:
        """``simulate``, with the time loop in ``loop_dtype`` where the model has one and a dtype is given."""
        if loop_dtype is None or self.with_loop_dtype is None:
            return self.simulate
        return self.with_loop_dtype(loop_dtype)

    def params_of(self, values: Mapping[str, Any]) -> Records:
        """The design values of every section, typed (``p.landing.isp_s``), from the configuration's numeric
        values keyed ``"<section>.<name>"``."""
        cls = record(f"{_camel(self.name)}Params", tuple(s.name for s in self.sections))
        return cls(*(s.params_of(values) for s in self.sections))

    def inputs_of(self, values: Mapping[str, Any]) -> Records:
        """The sampled inputs of every section, typed (``x.power.load_factor``), as :meth:`params_of`."""
        cls = record(f"{_camel(self.name)}Inputs", tuple(s.name for s in self.sections))
        return cls(*(s.inputs_of(values) for s in self.sections))

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
