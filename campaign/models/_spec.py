"""Declarations every model makes about itself: its design parameters, sampled inputs and outputs.

A model module declares each name exactly once, with its unit, bounds and meaning. The configuration layer
builds its validation schema from these declarations and the YAML files in ``conf/`` hold the values (with
their sources), so no default lives in two places. Nothing here imports Ray, Hydra or pyarrow.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import jax
import numpy as np

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
    kind: str = "float"  # "float"; "floats" (a list, bounds apply to each); "utc" (an ISO 8601 UTC date)

    def violation(self, value) -> str | None:
        """Return a message if ``value`` breaks a bound or does not parse, else None."""
        if self.kind == "utc":
            try:
                np.datetime64(str(value), "s")
            except ValueError:
                return "must be an ISO 8601 UTC date such as 2028-12-01T00:00"
            return None
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
    ``valid_when`` names a boolean output: where it is false the value is meaningless (the phase was never
    reached) and the store writes null.
    """

    name: str
    kind: Kind
    unit: str
    doc: str
    role: str = "metric"
    valid_when: str | None = None


def section_params(params: Mapping[str, object], *sections: str) -> dict:
    """The values of ``params`` (keyed ``"<section>.<name>"``) belonging to ``sections``, keyed by ``name``."""
    prefixes = tuple(f"{s}." for s in sections)
    return {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(prefixes)}


_LOOP_DTYPE: contextvars.ContextVar = contextvars.ContextVar("loop_dtype", default=None)


@contextlib.contextmanager
def loop_precision(dtype) -> Iterator[None]:
    """While models are traced in this context, the long time loops that support it (the surface mission's)
    compute in ``dtype`` (e.g. float32 in a float64 campaign: ``run.precision=mixed``); ``None``: the campaign's
    own precision. The engine enters it inside the traced batch function, so it is read at trace time."""
    token = _LOOP_DTYPE.set(dtype)
    try:
        yield
    finally:
        _LOOP_DTYPE.reset(token)


def loop_dtype():
    """The float type the time loop should compute in (see :func:`loop_precision`), or ``None``."""
    return _LOOP_DTYPE.get()


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


SimulateFn = Callable[[Mapping[str, Array], Mapping[str, Array], Array], dict[str, Array]]
PrepareFn = Callable[[Mapping[str, object]], dict[str, np.ndarray]]
CheckFn = Callable[[Mapping[str, object]], list[tuple[str, str]]]


@dataclass(frozen=True)
class MissionModel:
    """A per-mission simulation: ``simulate(params, inputs, key) -> outputs``.

    ``params`` maps ``"<section>.<param>"`` to numbers (plus the arrays ``prepare`` returned), ``inputs`` maps ``"<section>.<input>"`` to scalars,
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
    # value (``"<section>.<param>"``, dates and lists included) and returns extra arrays for ``params``.
    prepare: PrepareFn | None = field(default=None, repr=False)
    # Optional cross-field checks of the design values (same argument as ``prepare``), run when the config is
    # loaded: ``(full key, message)`` for every problem, e.g. two lists whose lengths must agree.
    check: CheckFn | None = field(default=None, repr=False)

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
