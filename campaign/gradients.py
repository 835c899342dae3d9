"""Local design sensitivities: d E[metric] / d design value on a campaign's own missions.

For the first ``samples`` missions of a campaign (its sample indices, so its inputs and model keys: common random
numbers) and each design value ``mission.<section>.<name>`` asked for, two estimates of the derivative of a
metric's campaign mean:

* **pathwise** (``method: "jax.grad"``): every mission's own derivative by forward-mode differentiation of the
  model (``jax.jvp``, one direction per design variable, the directions vmapped: ``jax.jacfwd``), then their mean
  and its standard error (missions independent; clustered by epistemic draw when epistemic inputs vary,
  :func:`campaign.analysis.intervals.mean_interval`). Forward mode because a study has few design variables and
  many outputs: one pass yields every output of every mission for all variables, whereas reverse mode
  (``jax.grad``) needs one backward pass per metric and keeps every mission's hourly trajectory in memory.
  Measured on night_survival (2,048 missions of 2,400 hourly steps, ``python -m benchmarks.gradients``, process
  CPU time, median of 5-7): forward mode for 3 variables and all 12 float outputs costs 2.5-2.7 forward passes,
  reverse mode for one metric 10-11.
* **central finite difference on CRN** (``method: "finite difference on CRN"``): ``(f(x+h) - f(x-h)) / 2h`` of
  every mission's output, the same missions at both points, ``h = relative_step x`` the design value
  (:data:`RELATIVE_STEP`); the same at ``2h`` checks the step (``step_check``).

Which one is reported, and why (``smoothness`` of each metric-variable pair):

* a flag or a count (``bool``/``int`` outputs) and a float output that is a step count in disguise
  (``days_survived``: every mission's pathwise derivative exactly 0 while the finite difference moves) are
  **piecewise constant**: their pathwise derivative is 0 almost everywhere and says nothing about the mean's slope,
  which comes from missions crossing a step. The finite difference is reported, never a silent 0.
* a float output with pathwise derivatives is **smooth a.e.**; the mean of the pathwise derivatives is the slope
  of the mean only if no mission's value jumps as the design value moves. A mission's value jumps where its
  discrete path changes: the hour the rover dies moves (every field of its state freezes at death, so a minimum
  state of charge or box temperature, an energy margin, the energy generated, is a sawtooth of the design value
  at the hourly time step, whose teeth the pathwise derivative follows and whose drops it cannot see), its
  outcome, its nights; inside a mission, its operating mode and brown-outs jump too. Clipping at battery limits
  and the heater's maximum are kinks, not jumps: harmless. The two estimates are compared on the same missions
  (:func:`_judge`): the pathwise one is reported where their paired difference is shown to be negligible; else
  the finite difference, with both numbers, their ratio, the count of missions whose path changed and where the
  difference comes from. On night_survival's defaults, where two
  thirds of the rovers die, jumps decide almost every metric: +1 kWh of battery moves the mean worst-night margin
  by +298 Wh (SE 28) where the pathwise mean says +1,295.
* a design value that the model's host-side ``prepare`` hook reads (the site's horizon and height, the landing
  window: the environment table) never reaches JAX as a number: finite difference only, each point re-prepared.

Everything runs in float64 (``jax_enable_x64`` is switched on for the process): the inputs are drawn by the engine
at the campaign's own precision (so a float32 campaign's missions are exactly its own) and cast to float64.

Usage::

    python -m campaign.gradients night_survival --samples 2048 \\
        --variable mission.power.battery_capacity_wh --variable mission.thermal.insulation_conductance_w_per_k
    python -m campaign.gradients night_survival site=psr_edge --metric min_box_temp_k --json grads.json

:func:`design_gradients` returns the same as a JSON-safe dict (for a run's ``summary.json`` ``design`` section).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import engine
from .analysis.intervals import mean_interval
from .analysis.summary import json_safe
from .config import CampaignConfig
from .models import MODELS, Kind, Param
from .sampling import PURPOSE_MODEL, index_key, root_key, split_words

PATHWISE = "jax.grad"  # forward mode (jax.jvp) in practice: the same derivative, cheaper here (module docstring)
FINITE_DIFFERENCE = "finite difference on CRN"
PRECISION = "float64"
# Central difference at 1% of the design value: large enough for the jumps to average out, small enough for the
# mean's curvature. Measured on night_survival at Connecting Ridge (2,048 missions, ``python -m
# benchmarks.gradients``): at 1e-4, 19-32 missions change their discrete path within +-h, so a few jumps / 2h make
# the mean (worst-night margin per battery Wh: 0.42 +- 0.18); at 1% 1,416 do and the battery's and insulation's
# slopes hold from 1% to 5% within their SEs (0.298, 0.297, 0.297 Wh/Wh; min SOC per W/K -1.15, -1.17, -1.15); the
# array area's slopes still fall from 1% to 5% (30 to 206 missions change): ``step_check`` flags such cases.
# Rounding is nothing in float64: at 1e-4, where no path changes, the finite difference is the pathwise mean to 4
# digits.
RELATIVE_STEP = 0.01
# The pathwise estimate is reported where the paired difference, widened by 3 SE, is within 5% of the finite
# difference (an equivalence test: the missions must show that jumps are negligible, not merely fail to show that
# they matter); the step check uses the same constants as a difference test. Assumed: 3 SE, ~0.1% one-sided; 5%,
# above the step's curvature and the kinks it crosses (under 1% where no path changes, tests/test_gradients.py).
AGREEMENT_Z = 3.0
AGREEMENT_RELATIVE = 0.05


class GradientError(ValueError):
    """A design variable or metric that cannot be differentiated as asked (named, with the reason)."""


# ----------------------------------------------------------------------------------------------- variables
@dataclass(frozen=True)
class DesignVariable:
    """One design value to differentiate by: ``key`` (``"<section>.<name>"``, as the model's params), its
    declaration, configured ``value``, finite-difference ``step`` (same unit) and ``per`` (the change the table
    reports the effect of). ``through_prepare``: the model's host-side ``prepare`` reads it (no pathwise
    derivative)."""

    key: str
    param: Param
    value: float
    step: float
    per: float
    through_prepare: bool

    @property
    def name(self) -> str:
        return f"mission.{self.key}"


def round_per(value: float) -> float:
    """The change an analyst would quote for a design value: the power of ten nearest 10% of it (4000 Wh ->
    1000 Wh, 0.08 W/K -> 0.01 W/K, 2 m2 -> 0.1 m2)."""
    return 10.0 ** round(math.log10(0.1 * abs(value))) if value else 1.0


class _Recording(dict):
    """A dict that remembers which keys were read (to learn what ``prepare`` depends on); a reader that walks the
    whole dict (iteration, ``items``, ``copy``, ...) counts as reading every key."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def _everything(self, method: str):
        self.read.update(super().keys())
        return getattr(super(), method)

    def __iter__(self):
        return self._everything("__iter__")()

    def keys(self):
        return self._everything("keys")()

    def values(self):
        return self._everything("values")()

    def items(self):
        return self._everything("items")()

    def copy(self):
        return self._everything("copy")()


def prepared_keys(config: CampaignConfig) -> set[str]:
    """The design values (``"<section>.<name>"``) that the model's ``prepare`` hook reads (runs it once)."""
    if config.model.prepare is None:
        return set()
    recording = _Recording(config.params)
    config.model.prepare(recording)
    return recording.read


def resolve_variables(
    config: CampaignConfig,
    names: Sequence[str],
    relative_step: float = RELATIVE_STEP,
    steps: Mapping[str, float] | None = None,
    per: Mapping[str, float] | None = None,
) -> tuple[DesignVariable, ...]:
    """The :class:`DesignVariable` of each ``mission.<section>.<name>`` (the ``mission.`` prefix optional).
    ``steps`` / ``per`` override the finite-difference step and the reported change by name. Raises
    :class:`GradientError` for unknown names, dates and lists, whole numbers and a zero value without a step."""
    steps, per = _by_key(steps or {}), _by_key(per or {})
    values, declared = dict(config.params), {f"{s.name}.{p.name}": p for s in config.model.sections for p in s.params}
    prepared = prepared_keys(config)
    out = []
    for key in (_key(n) for n in names):
        param = declared.get(key)
        if param is None:
            raise GradientError(
                f"mission.{key}: not a design value of model '{config.model.name}' (allowed: "
                f"{', '.join('mission.' + k for k, p in declared.items() if p.kind == 'float')})"
            )
        if param.kind != "float" or param.integer:
            raise GradientError(
                f"mission.{key}: a {'whole number' if param.integer else param.kind}, not a "
                "continuous design value: sweep it instead (python -m campaign -m ...)"
            )
        value = float(values[key])
        step = steps.get(key, relative_step * abs(value))
        if not step > 0:
            raise GradientError(f"mission.{key} is 0: give its finite-difference step (--step mission.{key}=H)")
        out.append(DesignVariable(key, param, value, step, per.get(key, round_per(value)), key in prepared))
    if len({v.key for v in out}) != len(out):
        raise GradientError(f"a design variable is named twice: {list(names)}")
    return tuple(out)


def _key(name: str) -> str:
    return name.removeprefix("mission.")


def _by_key(mapping: Mapping[str, float]) -> dict[str, float]:
    return {_key(k): float(v) for k, v in mapping.items()}


# ------------------------------------------------------------------------------------------------ missions
@dataclass(frozen=True)
class Missions:
    """The campaign's missions to differentiate over: ``index`` (n,) sample indices, ``columns`` the campaign's
    own inputs and outputs at its precision (as :func:`campaign.engine.evaluate_shard` returns them),
    ``clusters`` (n,) the epistemic draw of each mission (None when missions are independent)."""

    index: np.ndarray
    columns: dict[str, np.ndarray]
    clusters: np.ndarray | None


class Design(NamedTuple):
    """A campaign's design as the model receives it: the numeric design values keyed ``"<section>.<name>"``
    (:meth:`~CampaignConfig.numeric_params`) and what ``prepare`` computed from all of them
    (:meth:`~CampaignConfig.tables`)."""

    params: dict
    tables: object

    @classmethod
    def of(cls, config: CampaignConfig) -> Design:
        """The design of ``config`` (runs ``prepare``: once per design)."""
        return cls(dict(config.numeric_params()), config.tables())


def campaign_missions(config: CampaignConfig, samples: int, first: int = 0, design: Design | None = None) -> Missions:
    """Missions ``first .. first+samples-1`` of the campaign, drawn and run by the engine exactly as the campaign
    does (its precision and batch size), so their inputs are the campaign's own. ``design``: the config's
    :class:`Design` if already computed (it runs ``prepare``)."""
    run = config.run
    if first % run.batch_size or first < 0:
        raise GradientError(f"first={first} must be a multiple of run.batch_size={run.batch_size}")
    if samples < 2 or first + samples > run.samples:
        raise GradientError(
            f"missions {first}..{first + samples - 1} are not among the campaign's run.samples="
            f"{run.samples} (and a standard error needs 2)"
        )
    design = Design.of(config) if design is None else design
    spec = config.spec(
        run.batch_size * math.ceil(samples / run.batch_size), tuple(design.params.items()), design.tables
    )
    columns = engine.evaluate_shard(spec, first, samples)
    index = columns["sample_index"]
    return Missions(index, columns, index // run.inner_samples if config.has_epistemic else None)


def model_keys(seed: int, index: np.ndarray) -> jax.Array:
    """The model keys of missions ``index`` (shape (n,)) as the engine derives them (:func:`engine.compiled`)."""
    root = root_key(jnp.asarray(np.concatenate(split_words(np.array([seed]))), jnp.uint32))
    words = jnp.asarray(np.stack(split_words(index), axis=1))
    return jax.vmap(lambda w: index_key(root, PURPOSE_MODEL, w[0], w[1]))(words)


def _missions(model_name: str):
    """``outputs(params, tables, inputs, keys)``: the model vmapped over missions (``params`` keyed
    ``"<section>.<name>"`` and ``tables`` shared; ``inputs`` keyed likewise, one row per mission)."""
    model = MODELS[model_name]

    def one(params, tables, inputs, key):
        return model.simulate(model.params_of(params), model.inputs_of(inputs), tables, key)

    return jax.vmap(one, in_axes=(None, None, 0, 0))


@lru_cache(maxsize=8)
def _forward(model_name: str):
    """jit of ``outputs(params, tables, inputs, keys)`` (:func:`_missions`)."""
    return jax.jit(_missions(model_name))


@lru_cache(maxsize=8)
def _pathwise(model_name: str, keys: tuple[str, ...], floats: tuple[str, ...]):
    """jit of ``(theta, params, tables, inputs, keys) -> (outputs, tangents)``: ``outputs`` the model's outputs at
    ``params`` with the design values ``keys`` replaced by ``theta`` (k,), ``tangents`` the derivatives of the
    ``floats`` outputs, each (n, k): forward mode, one direction per design value, vmapped over them."""
    missions = _missions(model_name)

    def split(theta, params, tables, inputs, mission_keys):
        p = {**params, **{k: theta[j] for j, k in enumerate(keys)}}
        out = missions(p, tables, inputs, mission_keys)
        return {k: out[k] for k in floats}, {k: v for k, v in out.items() if k not in floats}

    def both(theta, params, tables, inputs, mission_keys):
        def push(direction):
            smooth, tangent, rest = jax.jvp(
                lambda t: split(t, params, tables, inputs, mission_keys), (theta,), (direction,), has_aux=True
            )
            return {**smooth, **rest}, tangent

        return jax.vmap(push, out_axes=(None, -1))(jnp.eye(len(keys), dtype=theta.dtype))

    return jax.jit(both)


class _Batches:
    """The missions cut into equal chunks (the last padded by repeating its final mission, so one compiled
    shape serves every chunk), and the model evaluated chunk by chunk with the results cut back to ``n``."""

    def __init__(self, config: CampaignConfig, missions: Missions):
        self.n = missions.index.size
        self.size = min(config.run.batch_size, self.n)
        padded = self.size * math.ceil(self.n / self.size)
        take = np.minimum(np.arange(padded), self.n - 1)
        dtype = engine.campaign_dtype(PRECISION)
        self.inputs = {v.name: jnp.asarray(missions.columns[v.name][take], dtype) for v in config.variables}
        self.keys = model_keys(config.run.seed, missions.index[take])

    def first(self) -> tuple[dict, jax.Array]:
        return next(self.chunks())

    def chunks(self) -> Iterator[tuple[dict, jax.Array]]:
        for start in range(0, self.keys.shape[0], self.size):
            yield (
                {k: v[start : start + self.size] for k, v in self.inputs.items()},
                self.keys[start : start + self.size],
            )

    def run(self, fn: Callable, *args) -> tuple[Any, float]:
        """``fn(*args, inputs, keys)`` over every chunk, concatenated and cut to ``n`` missions (NumPy), and the
        process CPU seconds it took. The result has the pytree structure of ``fn``'s output."""
        start = time.process_time()
        parts = [jax.device_get(fn(*args, inputs, keys)) for inputs, keys in self.chunks()]
        joined = jax.tree.map(lambda *a: np.concatenate(a)[: self.n], *parts)
        return joined, time.process_time() - start


def _params(
    config: CampaignConfig, design: Design, variable: DesignVariable | None = None, value: float | None = None
) -> tuple[dict[str, jax.Array], object]:
    """The model's params and tables in float64 from ``design``, with ``variable`` set to ``value``: replaced,
    or, when ``prepare`` reads it, re-prepared."""
    if variable is not None and variable.through_prepare:
        moved = tuple((k, value if k == variable.key else v) for k, v in config.params)
        design = Design.of(dataclasses.replace(config, params=moved))
    elif variable is not None:
        design = design._replace(params={**design.params, variable.key: value})
    cast = lambda v: engine._as_param(v, engine.campaign_dtype(PRECISION))  # noqa: E731
    return {k: cast(v) for k, v in design.params.items()}, jax.tree_util.tree_map(cast, design.tables)


_COMPILED: dict = {}  # (jitted fn, signature) -> executable: a design search calls again with the same shapes


class _Executable:
    """``fn`` (jitted) compiled ahead of time for the signature of ``args``, its compile time measured (process
    CPU seconds; 0 when compiled earlier in this process); a call with another signature (a re-prepared table
    of another shape) goes through jit."""

    def __init__(self, fn, *args):
        self.fn, self.signature = fn, _signature(args)
        start = time.process_time()
        key = (fn, self.signature)
        if key not in _COMPILED:
            if len(_COMPILED) >= 16:  # assumed bound: a few models and variable sets per process
                _COMPILED.clear()
            _COMPILED[key] = fn.lower(*args).compile()
        self.compiled = _COMPILED[key]
        self.seconds = time.process_time() - start

    def __call__(self, *args):
        return (self.compiled if _signature(args) == self.signature else self.fn)(*args)


def _signature(args) -> tuple:
    leaves, tree = jax.tree.flatten(args)
    return tree, tuple((np.shape(a), str(a.dtype)) for a in leaves)


# ------------------------------------------------------------------------------------------------- compute
OFFSETS = (-2, -1, 1, 2)  # finite-difference points, in steps


@dataclass(frozen=True)
class Evaluations:
    """What the models computed: ``base`` outputs (name -> (n,)), ``tangents`` (name -> (n, k) over the
    pathwise variables ``pathwise_keys``), ``shifted[key][offset]`` outputs at ``value + offset x step``, and
    process CPU seconds (``timing``)."""

    base: dict[str, np.ndarray]
    tangents: dict[str, np.ndarray]
    pathwise_keys: tuple[str, ...]
    shifted: dict[str, dict[int, dict[str, np.ndarray]]]
    timing: dict[str, float]


def evaluate(
    config: CampaignConfig, missions: Missions, variables: Sequence[DesignVariable], design: Design | None = None
) -> Evaluations:
    """Run the model on ``missions``: forward mode at the configured design (all pathwise variables at once),
    then forward passes at the design and at every finite-difference point of every variable. ``design`` as for
    :func:`campaign_missions`."""
    batches = _Batches(config, missions)
    design = Design.of(config) if design is None else design
    params, tables = _params(config, design)
    floats = tuple(o.name for o in config.model.outputs if o.kind is Kind.FLOAT)
    keys = tuple(v.key for v in variables if not v.through_prepare)
    timing: dict[str, float] = {}
    tangents: dict[str, np.ndarray] = {}
    if keys:
        theta = jnp.stack([params[k] for k in keys])
        pathwise = _Executable(_pathwise(config.model.name, keys, floats), theta, params, tables, *batches.first())
        (_, tangents), timing["derivatives"] = batches.run(pathwise, theta, params, tables)
        timing["derivatives_compile"] = pathwise.seconds
        _check_finite(tangents, keys, missions.index)
    forward = _Executable(_forward(config.model.name), params, tables, *batches.first())
    base, timing["forward"] = batches.run(forward, params, tables)
    timing["forward_compile"] = forward.seconds
    shifted = {
        v.key: {s: batches.run(forward, *_params(config, design, v, v.value + s * v.step))[0] for s in OFFSETS}
        for v in variables
    }
    return Evaluations(base, tangents, keys, shifted, timing)


def _check_finite(tangents: Mapping[str, np.ndarray], keys: Sequence[str], index: np.ndarray) -> None:
    """Raise :class:`campaign.engine.NonFiniteError` naming every output, design value and sample index whose
    pathwise derivative is NaN or infinite (a model defect: typically a ``jnp.where`` whose untaken branch has
    an infinite derivative, e.g. ``sqrt`` at 0; fix it with a second ``where`` on the branch's input)."""
    problems = []
    for name, t in tangents.items():
        for j, key in enumerate(keys):
            bad = ~np.isfinite(t[:, j])
            if bad.any():
                problems.append(
                    f"d {name} / d mission.{key} at {bad.sum()} mission(s): sample_index "
                    f"{', '.join(map(str, index[bad][:10]))}{' ...' if bad.sum() > 10 else ''}"
                )
    if problems:
        raise engine.NonFiniteError("non-finite pathwise derivatives (a model defect): " + "; ".join(problems))


# ------------------------------------------------------------------------------------------------ compare
def _discrete(config: CampaignConfig) -> tuple[str, ...]:
    return ("outcome",) + tuple(o.name for o in config.model.outputs if o.kind is not Kind.FLOAT)


def _valid(config: CampaignConfig, metric: str, outputs: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """Missions where ``metric`` has a value (its ``valid_when`` flag) in every one of ``outputs``."""
    flag = next(o.valid_when for o in config.model.outputs if o.name == metric)
    if flag is None:
        return np.ones(outputs[0][metric].shape, dtype=bool)
    return np.logical_and.reduce([np.asarray(o[flag], dtype=bool) for o in outputs])


def _stat(values: np.ndarray, clusters: np.ndarray | None) -> dict:
    m = mean_interval(values, clusters)
    return {"derivative": m["mean"], "se": m["se"]}


def compare(
    config: CampaignConfig, ev: Evaluations, variable: DesignVariable, metric: str, clusters: np.ndarray | None
) -> dict:
    """One metric against one design value: both estimates, their paired comparison, the reported one."""
    out_decl = next(o for o in config.model.outputs if o.name == metric)
    at = ev.shifted[variable.key]
    valid = _valid(config, metric, [ev.base, *at.values()])
    if valid.sum() < 2:
        return _undefined(metric, variable, out_decl.unit, int(valid.sum()))
    cl = None if clusters is None else clusters[valid]
    value = {s: np.asarray(at[s][metric], dtype=float)[valid] for s in OFFSETS}
    fd1 = (value[1] - value[-1]) / (2 * variable.step)
    fd2 = (value[2] - value[-2]) / (4 * variable.step)
    changed = _path_changed(config, ev, variable)[valid]
    entry: dict[str, Any] = {
        "metric": metric,
        "variable": variable.name,
        "unit": f"{out_decl.unit or '1'}/{variable.param.unit}",
        "missions": int(valid.sum()),
        "path_changes": int(changed.sum()),
        "finite_difference": {
            **_stat(fd1, cl),
            "step": variable.step,
            "at_2h": _stat(fd2, cl),
            "step_check": _step_check(fd1, fd2, cl),
        },
        "pathwise": None,
    }
    if variable.key in ev.pathwise_keys and metric in ev.tangents:
        grad = ev.tangents[metric][:, ev.pathwise_keys.index(variable.key)][valid]
        entry |= _judge(entry, grad, fd1, changed, cl)
    elif variable.through_prepare:
        entry |= {
            "smoothness": "not differentiable by JAX",
            "method": FINITE_DIFFERENCE,
            "note": "acts through the model's host-side preparation (prepare): finite difference only",
        }
    else:
        entry |= {
            "smoothness": "piecewise constant",
            "method": FINITE_DIFFERENCE,
            "note": f"a {out_decl.kind.value} output: its pathwise derivative is 0 almost everywhere; the "
            "mean moves only as missions cross a step",
        }
    reported = entry["pathwise"] if entry["method"] == PATHWISE else entry["finite_difference"]
    entry |= {
        "derivative": reported["derivative"],
        "se": reported["se"],
        "per": variable.per,
        "effect": reported["derivative"] * variable.per,
        "effect_se": reported["se"] * variable.per,
    }
    return entry


def _undefined(metric: str, variable: DesignVariable, unit: str, missions: int) -> dict:
    """The entry of a metric that fewer than 2 missions give a value (its ``valid_when`` flag, e.g. no night)."""
    none = {"derivative": None, "se": None}
    return {
        "metric": metric,
        "variable": variable.name,
        "unit": f"{unit or '1'}/{variable.param.unit}",
        "missions": missions,
        "path_changes": 0,
        "pathwise": None,
        "smoothness": "undefined",
        "method": FINITE_DIFFERENCE,
        "finite_difference": {**none, "step": variable.step, "at_2h": none, "step_check": {"ok": True}},
        **none,
        "per": variable.per,
        "effect": None,
        "effect_se": None,
        "note": f"{missions} mission(s) give this metric a value: nothing to estimate",
    }


def _step_check(fd1: np.ndarray, fd2: np.ndarray, clusters) -> dict:
    """Whether the slope at ``2h`` is that at ``h`` (paired over the missions, within :data:`AGREEMENT_Z` SE or
    :data:`AGREEMENT_RELATIVE`): if not, the mean is curved at this scale, or jumps are too sparse for ``h`` to
    average them (try a smaller step with more missions, or sweep the value)."""
    gap = _stat(fd2 - fd1, clusters)
    size = abs(gap["derivative"])
    ok = bool(size <= AGREEMENT_Z * gap["se"] or size <= AGREEMENT_RELATIVE * abs(float(np.mean(fd1))))
    return {"difference": gap["derivative"], "se": gap["se"], "ok": ok}


def _flat_judgement(fd: np.ndarray, pathwise: dict) -> dict:
    """:func:`_judge`'s verdict when every mission's pathwise derivative is 0: flat if the finite difference is 0
    too, else piecewise constant; the finite difference is reported either way."""
    flat = not np.any(fd)
    return {
        "smoothness": "flat" if flat else "piecewise constant",
        "method": FINITE_DIFFERENCE,
        "pathwise": pathwise,
        "note": (
            "neither estimate moves: independent of this design value here, or piecewise constant with "
            "no mission crossing a step within +-h"
            if flat
            else "every mission's pathwise derivative is exactly 0 (a step count): the mean moves only as "
            "missions cross a step"
        ),
    }


def _disagreement(difference: dict, jumps: float, changed: np.ndarray) -> str:
    """Why the pathwise derivative and the finite difference disagree (:func:`_judge`): the jumps of the missions
    whose discrete path changes within +-h (``changed``; ``jumps``, their share of the paired ``difference``),
    the other missions, or too few missions to tell."""
    rest = difference["derivative"] - jumps
    if abs(jumps) > AGREEMENT_Z * difference["se"] and abs(jumps) >= abs(rest):
        return (
            f"the metric jumps in the {int(changed.sum())} of {changed.size} missions whose discrete path "
            "changes within +-h (death hour, outcome, nights; a dead rover's state is frozen at its death step): "
            f"their share of the paired difference is {jumps:.3g}, a slope the pathwise derivative cannot see"
        )
    if abs(rest) > AGREEMENT_Z * difference["se"]:
        return (
            f"missions whose discrete path does not change differ by {rest:.3g}: jumps inside a mission that no "
            "output shows (operating mode, brown-out), kinks, or the step's curvature"
        )
    return (
        f"the two cannot be told apart within {AGREEMENT_RELATIVE:.0%} of the slope on these missions: the "
        "finite difference, which includes any jumps, is reported"
    )


def _judge(entry: dict, grad: np.ndarray, fd: np.ndarray, changed: np.ndarray, clusters) -> dict:
    """The pathwise estimate of a float output against the finite difference on the same missions. The pathwise
    one is reported only where the missions show that it is the slope of the mean: the paired difference (what
    jumps add to the slope, plus kinks and curvature within +-h) lies, with :data:`AGREEMENT_Z` standard errors
    around it, within :data:`AGREEMENT_RELATIVE` of the finite difference. Else the finite difference is reported
    (it includes the jumps), and the note says where the difference comes from: the missions whose discrete path
    changes within +-h (a dead rover's state is frozen at its death step), the others (jumps inside a mission that
    no output shows: operating mode, brown-out), or too few missions to tell."""
    fd_mean = entry["finite_difference"]["derivative"]
    pathwise = _stat(grad, clusters)
    if not np.any(grad):
        return _flat_judgement(fd, pathwise)
    difference = _stat(grad - fd, clusters)
    bound = abs(difference["derivative"]) + AGREEMENT_Z * difference["se"]
    agree = bool(bound <= AGREEMENT_RELATIVE * abs(fd_mean))
    same = ~changed
    jumps = float(np.sum((grad - fd)[changed])) / grad.size  # the changed missions' share of the difference
    out = {
        "smoothness": "smooth a.e.",
        "pathwise": pathwise,
        "difference": difference,
        "agree": agree,
        "ratio": pathwise["derivative"] / fd_mean if fd_mean else None,
        "jump_share": jumps,
        "unchanged_paths": {
            "missions": int(same.sum()),
            "pathwise": float(grad[same].mean()) if same.any() else None,
            "finite_difference": float(fd[same].mean()) if same.any() else None,
        },
    }
    if agree:
        return out | {"method": PATHWISE}
    why = _disagreement(difference, jumps, changed)
    return out | {
        "method": FINITE_DIFFERENCE,
        "note": f"{why}; paired difference {difference['derivative']:.3g} (SE {difference['se']:.2g})",
    }


def _path_changed(config: CampaignConfig, ev: Evaluations, variable: DesignVariable) -> np.ndarray:
    """Missions whose discrete path differs between ``x - h``, ``x`` and ``x + h``: a flag, a count, the
    outcome, or a float output that is piecewise constant in this variable (pathwise derivative exactly 0
    everywhere, e.g. days survived)."""
    names = list(_discrete(config))
    if variable.key in ev.pathwise_keys:
        j = ev.pathwise_keys.index(variable.key)
        names += [k for k, t in ev.tangents.items() if not np.any(t[:, j])]
    points = (ev.shifted[variable.key][-1], ev.base, ev.shifted[variable.key][1])
    changed = np.zeros(ev.base["outcome"].shape, dtype=bool)
    for name in names:
        a, b, c = (np.asarray(p[name]) for p in points)
        changed |= (a != b) | (b != c)
    return changed


def _missions_record(config: CampaignConfig, missions, ev: Evaluations, first: int, samples: int) -> dict:
    """The ``missions`` entry of :func:`design_gradients`: which missions of the campaign (first, count, seed,
    sampler), their clusters, the campaign's precision and how many outcomes match the campaign's."""
    return {
        "first": first,
        "count": samples,
        "seed": config.run.seed,
        "sampler": config.sampler.value,
        "clusters": None if missions.clusters is None else int(np.unique(missions.clusters).size),
        "campaign_precision": config.run.precision,
        "outcomes_as_campaign": int(np.sum(ev.base["outcome"] == missions.columns["outcome"])),
    }


def _variable_record(v: DesignVariable) -> dict:
    """One design value's entry in :func:`design_gradients`' ``variables``: name, unit, value, step, per and
    whether it goes through the model's prepare."""
    return {
        "name": v.name,
        "unit": v.param.unit,
        "value": v.value,
        "step": v.step,
        "per": v.per,
        "through_prepare": v.through_prepare,
    }


# ---------------------------------------------------------------------------------------------------- API
def design_gradients(
    config: CampaignConfig,
    variables: Sequence[str],
    metrics: Sequence[str] | None = None,
    samples: int = 2048,
    *,
    first: int = 0,
    relative_step: float = RELATIVE_STEP,
    steps: Mapping[str, float] | None = None,
    per: Mapping[str, float] | None = None,
) -> dict:
    """Local sensitivities d E[metric] / d design value over missions ``first .. first+samples-1`` of the
    campaign ``config`` (see the module docstring for the methods and how one is chosen).

    ``variables``: design values ``mission.<section>.<name>``; ``metrics``: model outputs (default: all);
    ``relative_step``: the finite-difference step as a fraction of each design value (``steps`` overrides it by
    name, in the value's unit); ``per``: the change of each design value the ``effect`` is quoted for (default
    :func:`round_per`). Switches JAX to 64-bit for this process.

    Returns a JSON-safe dict: ``model``, ``missions`` (first, count, seed, sampler, clusters, campaign precision),
    ``precision``, ``relative_step``, ``agreement``, ``variables`` (name, unit, value, step, per,
    through_prepare), ``metrics`` (name, unit, kind, mean, se, missions), ``sensitivities`` (one per metric and
    variable: ``derivative``/``se`` in ``unit`` = metric unit per variable unit, ``effect``/``effect_se`` for a
    change of ``per``, ``method``, ``smoothness``, ``pathwise``, ``finite_difference`` (with ``at_2h`` and
    ``step_check``),
    ``ratio`` (pathwise / finite difference), ``difference`` (paired, with its SE), ``agree``, ``path_changes``,
    ``jump_share`` (the changed missions' share of the difference), ``unchanged_paths``, ``note``),
    ``timing_s`` (process CPU seconds) and ``notes``.
    """
    # JAX names at INFO each accelerator it did not find; Hydra's logging shows INFO: not a message for users
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    engine.configure_jax(PRECISION)
    chosen = resolve_variables(config, variables, relative_step, steps, per)
    names = _metrics(config, metrics)
    design = Design.of(config)  # runs prepare: once
    missions = campaign_missions(config, samples, first, design)
    ev = evaluate(config, missions, chosen, design)
    result = {
        "model": config.model.name,
        "missions": _missions_record(config, missions, ev, first, samples),
        "precision": PRECISION,
        "relative_step": relative_step,
        "agreement": {"z": AGREEMENT_Z, "relative": AGREEMENT_RELATIVE},
        "variables": [_variable_record(v) for v in chosen],
        "metrics": [_metric_summary(config, ev, name, missions.clusters) for name in names],
        "sensitivities": [compare(config, ev, v, name, missions.clusters) for v in chosen for name in names],
        "timing_s": _timing(ev.timing, len(ev.pathwise_keys)),
        "notes": _notes(config),
    }
    return json_safe(result)


def _metrics(config: CampaignConfig, metrics: Sequence[str] | None) -> tuple[str, ...]:
    declared = [o.name for o in config.model.outputs]
    unknown = [m for m in metrics or () if m not in declared]
    if unknown:
        raise GradientError(
            f"{', '.join(unknown)}: not outputs of model '{config.model.name}' (allowed: {', '.join(declared)})"
        )
    return tuple(metrics or declared)


def _metric_summary(config: CampaignConfig, ev: Evaluations, name: str, clusters) -> dict:
    decl = next(o for o in config.model.outputs if o.name == name)
    valid = _valid(config, name, [ev.base])
    m = mean_interval(np.asarray(ev.base[name], dtype=float)[valid], None if clusters is None else clusters[valid])
    return {
        "name": name,
        "unit": decl.unit,
        "kind": decl.kind.value,
        "mean": m["mean"],
        "se": m["se"],
        "missions": m["n"],
    }


def _timing(timing: Mapping[str, float], k: int) -> dict:
    out = dict(timing)
    if k and timing.get("forward"):
        out["derivatives_per_forward"] = timing["derivatives"] / timing["forward"]
        out["derivatives_per_forward_per_variable"] = timing["derivatives"] / timing["forward"] / k
    return out


def _notes(config: CampaignConfig) -> list[str]:
    notes = [
        (
            f"derivatives in {PRECISION}, on the campaign's own missions drawn at its precision "
            f"({config.run.precision}); pathwise by forward mode (jax.jvp, vmapped over the design variables)"
        )
    ]
    if config.has_epistemic:
        notes.append(f"standard errors clustered by epistemic draw ({config.run.inner_samples} missions each)")
    return notes


# --------------------------------------------------------------------------------------------------- table
def format_table(result: Mapping) -> str:
    """The sensitivities as text: per design variable, the effect of ``per`` on each metric's mean."""
    m = result["missions"]
    lines = [
        (
            f"Design sensitivities of '{result['model']}': {m['count']:,} missions from sample {m['first']} "
            f"(seed {m['seed']}, {m['sampler']}), {result['precision']} (the campaign runs "
            f"{m['campaign_precision']}); finite differences at +-{result['relative_step']:g} x value, "
            "same missions"
        )
    ]
    units = {x["name"]: x["unit"] for x in result["metrics"]}
    for v in result["variables"]:
        lines.append(
            f"\n{v['name']} = {v['value']:g} {v['unit']} (step {v['step']:.3g}"
            f"{', through prepare: finite difference only' if v['through_prepare'] else ''})"
        )
        lines.append(
            f"  {'+' + format(v['per'], 'g') + ' ' + v['unit'] + ' ->':<32}{'effect (SE)':>24}  "
            f"{'method':<9}{'pathwise':>12}{'fin. diff.':>12}{'ratio':>8}{'paths':>7}"
        )
        for s in (s for s in result["sensitivities"] if s["variable"] == v["name"]):
            lines.append(_row(s, units[s["metric"]]))
    lines.append(
        "\nmethod: jax = pathwise (forward mode), FD = finite difference on CRN (reported where the "
        "metric is piecewise constant, or the pathwise mean is not shown to be within 5% of it: jumps); "
        "paths = missions whose "
        "discrete path (death hour, outcome, counts) changes within +-h; * = the slope at 2h differs "
        "from that at h beyond 3 SE (curvature, or jumps too sparse for the step)"
    )
    t = result["timing_s"]
    if "derivatives" in t:
        lines.append(
            f"time (CPU s): forward pass {t['forward']:.2f}, derivatives {t['derivatives']:.2f} "
            f"({t['derivatives_per_forward']:.1f} forward passes)"
        )
    return "\n".join(lines)


def _row(s: Mapping, unit: str) -> str:
    def num(x, fmt="+.3g"):
        return "-" if x is None else format(x * s["per"], fmt)

    effect = f"{num(s['derivative'])} {unit or ''} ({num(s['se'], '.2g')})"
    method = "jax" if s["method"] == PATHWISE else "FD"
    path = s["pathwise"]["derivative"] if s["pathwise"] else None
    fd = s["finite_difference"]
    mark = "" if fd["step_check"]["ok"] else "*"
    ratio = "-" if s.get("ratio") is None else f"{s['ratio']:.3g}"
    return (
        f"  {s['metric']:<32}{effect:>24}  {method:<9}{num(path):>12}{num(fd['derivative']) + mark:>12}"
        f"{ratio:>8}{s['path_changes']:>7}"
    )


# ----------------------------------------------------------------------------------------------------- CLI
def compose(experiment: str | None, overrides: Sequence[str] = ()) -> CampaignConfig:
    """The validated campaign of ``+experiment=EXPERIMENT`` with Hydra ``overrides``, as ``python -m campaign``
    composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from .app import CONF_DIR
    from .config import load, register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        chosen = ([f"+experiment={experiment}"] if experiment else []) + list(overrides)
        return load(hydra_compose("config", overrides=chosen))


DEFAULT_VARIABLES = (
    "mission.power.battery_capacity_wh",
    "mission.thermal.insulation_conductance_w_per_k",
    "mission.power.array_area_m2",
)


def _assignments(items: Sequence[str], flag: str) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise GradientError(f"{flag} {item}: expected NAME=VALUE")
        out[name] = float(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m campaign.gradients",
        description=(
            "Local design sensitivities d E[metric] / d design value on a campaign's own missions (float64; pathwise "
            "by forward-mode JAX, checked against central finite differences on common random numbers)."
        ),
    )
    parser.add_argument("experiment", help="an experiment of conf/experiment/ (e.g. night_survival)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. site=psr_edge run.seed=3")
    parser.add_argument("--samples", type=int, default=2048, help="missions (the campaign's first ones)")
    parser.add_argument(
        "--variable",
        action="append",
        default=[],
        help=(f"a design value mission.<section>.<name> (repeat; default: {', '.join(DEFAULT_VARIABLES)})"),
    )
    parser.add_argument("--metric", action="append", default=[], help="a model output (repeat; default: all)")
    parser.add_argument("--relative-step", type=float, default=RELATIVE_STEP, help="finite-difference step / value")
    parser.add_argument("--step", action="append", default=[], help="NAME=H: absolute step for one variable")
    parser.add_argument("--per", action="append", default=[], help="NAME=D: quote the effect of a change D")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_intermixed_args(argv)
    from hydra.errors import HydraException

    from .config import ConfigError

    try:
        config = compose(args.experiment, args.overrides)
        result = design_gradients(
            config,
            args.variable or DEFAULT_VARIABLES,
            args.metric or None,
            args.samples,
            relative_step=args.relative_step,
            steps=_assignments(args.step, "--step"),
            per=_assignments(args.per, "--per"),
        )
    except (ConfigError, GradientError, HydraException) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
