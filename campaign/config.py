"""Configuration: structured-config schemas for Hydra, and the typed, validated :class:`CampaignConfig`.

Two layers of checking, both before any work starts:

1. At composition, Hydra/OmegaConf check the config against schemas registered in the ConfigStore: an unknown
   key, a wrong type or an unknown enum value (distribution, level, sampler, precision) fails there, naming the
   key and the allowed values. The schemas of ``mission.<section>`` are generated from the declarations in the
   model modules (:class:`campaign.models.Param`/``Input``), so each name is written once; the values and their
   sources live only in ``conf/``.
2. :func:`load` checks values (bounds, distribution parameters, probabilities in [0, 1], ...) and raises a
   :class:`ConfigError` listing every problem with its full key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, make_dataclass
from typing import Any, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from .distributions import ALL_PARAMETER_NAMES, PARAMETERS, DistKind, Level, check, support, theta_of
from .mass import MassModel
from .models import MODELS, MissionModel, Section
from .sampling import SamplerKind, Variable, saltelli_design, saltelli_layout
from .spec import CampaignSpec


class Precision(enum.Enum):
    float32 = "float32"
    float64 = "float64"
    mixed = "mixed"  # float64, but the surface mission's hourly loop in float32


class ConfigError(ValueError):
    """Invalid configuration values; ``problems`` holds ``(full key, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = [f"  {key}: {msg}" for key, msg in problems]
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{len(problems)} {noun} in the configuration:\n" + "\n".join(lines))


# ---------------------------------------------------------------------------------------------- schemas
@dataclass
class DistConfig:
    """An uncertain input's distribution. Only the parameters of the chosen ``dist`` may be set."""

    dist: DistKind = MISSING
    level: Level = Level.aleatory
    value: Optional[float] = None
    mean: Optional[float] = None
    std: Optional[float] = None
    median: Optional[float] = None
    sigma_log: Optional[float] = None
    low: Optional[float] = None
    high: Optional[float] = None
    mode: Optional[float] = None
    alpha: Optional[float] = None
    beta: Optional[float] = None
    p: Optional[float] = None
    values: Optional[List[float]] = None
    weights: Optional[List[float]] = None


assert set(ALL_PARAMETER_NAMES) <= {f for f in DistConfig.__dataclass_fields__}, "DistConfig lacks a parameter"


def _section_schema(section: Section) -> type:
    title = "".join(part.title() for part in section.name.split("_"))
    uncertain = make_dataclass(f"{title}Uncertain", [(i.name, DistConfig, MISSING) for i in section.inputs])
    types = {"float": float, "bool": bool, "floats": List[float], "utc": str}
    fields: list[Any] = [(p.name, int if p.integer else types[p.kind], MISSING) for p in section.params]
    fields.append(("uncertain", uncertain, field(default_factory=uncertain)))
    return make_dataclass(f"{title}Section", fields)


def _all_sections() -> dict[str, Section]:
    sections: dict[str, Section] = {}
    for model in MODELS.values():
        for s in model.sections:
            if sections.setdefault(s.name, s) is not s:
                raise AssertionError(f"two models declare different sections named {s.name!r}")
    return sections


MissionSchema = make_dataclass(
    "MissionSchema",
    [("model", str, MISSING)]
    + [(name, Optional[_section_schema(s)], None) for name, s in sorted(_all_sections().items())],
)


@dataclass
class StopSchema:
    halfwidth: Optional[float] = None
    on: List[str] = field(default_factory=list)


@dataclass
class RunSchema:
    name: str = MISSING
    samples: int = MISSING
    seed: int = MISSING
    inner_samples: int = MISSING
    shard_size: Optional[int] = None
    max_shard_size: int = MISSING
    batch_size: int = MISSING
    output_dir: Optional[str] = None
    resume: bool = False
    precision: Precision = MISSING
    progress: bool = True
    stop: StopSchema = field(default_factory=StopSchema)


@dataclass
class SamplerSchema:
    name: SamplerKind = MISSING


class ClusterMode(enum.Enum):
    local = "local"
    ray = "ray"


@dataclass
class ClusterSchema:
    mode: ClusterMode = MISSING
    address: Optional[str] = None
    num_cpus: Optional[int] = None
    cpus_per_task: float = MISSING
    max_tasks_in_flight: Optional[int] = None
    task_retries: int = MISSING
    jax_cache_dir: Optional[str] = None
    direct_write: bool = False


class Direction(enum.Enum):
    increasing = "increasing"  # more of the lever never lowers P(goal): the smallest value that reaches it
    decreasing = "decreasing"  # less of the lever never lowers P(goal): the largest value that reaches it


@dataclass
class DesignMapSchema:
    variable: Optional[str] = None
    values: List[Any] = field(default_factory=list)


@dataclass
class DesignSchema:
    variable: Optional[str] = None
    low: Optional[float] = None
    high: Optional[float] = None
    values: List[Any] = field(default_factory=list)
    direction: Direction = Direction.increasing
    goal: Optional[str] = None
    target: float = MISSING
    confidence: float = MISSING
    resolution: Optional[float] = None
    grid: int = MISSING
    max_candidates: int = MISSING
    sensitivities: List[str] = field(default_factory=list)
    map: DesignMapSchema = field(default_factory=DesignMapSchema)


@dataclass
class MassSchema:
    limit_kg: float = MISSING
    other_kg: float = MISSING
    battery_wh_per_kg: float = MISSING
    array_kg_per_m2: float = MISSING
    deck_height_m: float = MISSING
    tower_kg_per_m: float = MISSING
    insulation_kg_w_per_k: float = MISSING
    radiator_kg_per_m2: float = MISSING


@dataclass
class CampaignSchema:
    run: RunSchema = field(default_factory=RunSchema)
    sampler: SamplerSchema = field(default_factory=SamplerSchema)
    cluster: ClusterSchema = field(default_factory=ClusterSchema)
    mission: Any = field(default_factory=MissionSchema)
    design: DesignSchema = field(default_factory=DesignSchema)
    mass: MassSchema = field(default_factory=MassSchema)


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (``conf/config.yaml`` lists ``campaign_schema`` first)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="campaign_schema", node=CampaignSchema)


# ------------------------------------------------------------------------------------------ typed config
@dataclass(frozen=True)
class StopSettings:
    """``run.stop``: stop once every named probability's valid 95% half-width is at most ``halfwidth`` (None: a
    fixed-size campaign of ``run.samples``, which is otherwise the cap). ``on``: the phase or goal flags the
    target applies to (every goal when empty)."""

    halfwidth: float | None = None
    on: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSettings:
    name: str
    samples: int
    seed: int
    inner_samples: int
    shard_size: int | None
    max_shard_size: int
    batch_size: int
    output_dir: str | None
    resume: bool
    precision: str
    progress: bool
    stop: StopSettings = StopSettings()

    @property
    def adaptive(self) -> bool:
        """Whether the campaign stops at a target precision (``run.stop.halfwidth`` set)."""
        return self.stop.halfwidth is not None


@dataclass(frozen=True)
class ClusterSettings:
    mode: str
    address: str | None
    num_cpus: int | None
    cpus_per_task: float
    max_tasks_in_flight: int | None
    task_retries: int
    jax_cache_dir: str | None
    direct_write: bool = False


@dataclass(frozen=True)
class DesignSettings:
    """``design``: find the value of ``variable`` for which P(``goal``) reaches ``target`` at ``confidence``
    (:mod:`campaign.design`). ``values``: evaluate these candidates instead of searching ``[low, high]``;
    ``map_variable`` / ``map_values``: repeat the search for each value of a second lever (a two-lever map)."""

    variable: str
    low: float | None
    high: float | None
    values: tuple
    direction: str
    goal: str
    target: float
    confidence: float
    resolution: float | None
    grid: int
    max_candidates: int
    map_variable: str | None = None
    map_values: tuple = ()
    sensitivities: tuple[str, ...] = ()  # outputs whose local sensitivities are computed at the answer

    @property
    def searches(self) -> bool:
        """A search over ``[low, high]`` (rather than a list of candidates)."""
        return not self.values


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign: plain values only (every interpolation resolved on the driver)."""

    run: RunSettings
    sampler: SamplerKind
    cluster: ClusterSettings
    model: MissionModel
    params: tuple[tuple[str, Any], ...]  # design values as configured (dates and lists included)
    variables: tuple[Variable, ...]
    resolved: dict = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()  # harmless oddities worth telling the user (printed before the run)
    design: DesignSettings | None = None  # a design search (campaign.design) rather than one campaign
    mass: MassModel | None = None  # the rover's mass model (None for a model without a rover)

    @property
    def has_epistemic(self) -> bool:
        """Whether an epistemic input varies (then missions of one outer draw share a state of knowledge)."""
        return any(v.level is Level.epistemic and v.kind is not DistKind.fixed for v in self.variables)

    def numeric_params(self) -> tuple[tuple[str, object], ...]:
        """The design values the model receives as arrays (numbers and flags; lists and dates reach it only
        through ``prepare``)."""
        return tuple((k, v) for k, v in self.params if isinstance(v, (float, bool)))

    def tables(self):
        """What the model's ``prepare`` hook computes on the host from every design value (dates and lists
        included), or None. Runs the hook: call once per campaign."""
        return self.model.prepare(dict(self.params)) if self.model.prepare else None

    def spec(self, shard_size: int, params: tuple | None = None, tables=None) -> CampaignSpec:
        params = self.numeric_params() if params is None else params
        tables = self.tables() if tables is None else tables
        return CampaignSpec(
            model=self.model.name,
            params=params,
            tables=tables,
            variables=self.variables,
            sampler=self.sampler,
            seed=self.run.seed,
            samples=self.run.samples,
            inner_samples=self.run.inner_samples,
            shard_size=shard_size,
            batch_size=self.run.batch_size,
            precision=self.run.precision,
        )


def _enum_value(x: Any) -> Any:
    return x.value if isinstance(x, enum.Enum) else x


def _plain(cfg: DictConfig) -> dict:
    """Resolved plain container with enums as their values (what is stored as provenance)."""

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return _enum_value(x)

    return walk(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))


def _missing(node: Any, prefix: str) -> list[tuple[str, str]]:
    """Problems for every mandatory value left unset ('???') under ``node``."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _missing(v, f"{prefix}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _missing(v, f"{prefix}[{i}]")]
    return [(prefix, "is missing: set it in conf/ or on the command line")] if node == "???" else []


def _check_bounds(problems, key: str, value, minimum, *, allow_none=False, strict=False) -> None:
    if value is None:
        if not allow_none:
            problems.append((key, "must be set"))
        return
    if (value <= minimum) if strict else (value < minimum):
        problems.append((key, f"must be {'>' if strict else '>='} {minimum}, got {value}"))


def _load_section(section: Section, node: dict, problems: list, notes: list) -> tuple[list, list]:
    base = f"mission.{section.name}"
    params, variables = [], []
    for p in section.params:
        value = node[p.name]
        msg = p.violation(value)
        if msg:
            problems.append((f"{base}.{p.name}", f"{msg} ({p.unit}: {p.doc}), got {value}"))
        elif p.kind == "float":
            value = float(value)
        elif p.kind == "bool":
            value = bool(value)
        elif p.kind == "floats":
            value = tuple(float(v) for v in value)
        params.append((f"{section.name}.{p.name}", value))
    uncertain = node.get("uncertain") or {}
    for inp in section.inputs:
        key = f"{base}.uncertain.{inp.name}"
        d = uncertain.get(inp.name)
        if d is None:
            problems.append((key, "is missing: every uncertain input needs a distribution"))
            continue
        kind, level = DistKind(d["dist"]), Level(d["level"])
        given = {k: d[k] for k in ALL_PARAMETER_NAMES if d.get(k) is not None}
        # An override such as `x={dist:fixed,value:0.9}` merges into the old distribution and leaves its
        # parameters behind: they are ignored, visibly.
        stale = sorted(set(given) - set(PARAMETERS[kind]))
        if stale:
            notes.append(f"{key}: {', '.join(stale)} ignored (not parameters of '{kind.value}')")
            given = {k: v for k, v in given.items() if k in PARAMETERS[kind]}
        errs = check(kind, given)
        problems.extend((f"{key}.{k}", msg) for k, msg in errs)
        if errs:
            continue
        theta = theta_of(kind, given)
        lo, hi = support(kind, theta)
        if lo < inp.support[0] or hi > inp.support[1]:
            problems.append(
                (
                    key,
                    f"'{kind.value}' can produce values in [{lo:g}, {hi:g}] but {inp.name} "
                    f"({inp.doc}) must lie in [{inp.support[0]:g}, {inp.support[1]:g}]",
                )
            )
        variables.append(Variable(f"{section.name}.{inp.name}", kind, theta, level))
    return params, variables


DESIGN_STEPS = 64  # default design.resolution: (high - low) / 64 (assumed: ~1.5% of the range, six halvings)
SITE = "site"  # design.variable for the landing site: candidates are conf/site/ names


def _lever(key: str, name: str | None, model: MissionModel, params: dict, numeric: bool, problems: list) -> bool:
    """Check a design lever ``name`` (``site`` or ``mission.<section>.<param>``); ``numeric``: it must be a
    number to search over. Returns whether it is valid."""
    if name == SITE:
        if numeric:
            problems.append((key, "site is categorical: give the candidates in design.values, not low/high"))
        return not numeric
    section_param = name[len("mission.") :] if name and name.startswith("mission.") else None
    if section_param not in params:
        levers = ", ".join(f"mission.{k}" for k, v in params.items() if isinstance(v, float))
        problems.append((key, f"{name!r} is not a design value of model '{model.name}' (site, or one of: {levers})"))
        return False
    if numeric and not isinstance(params[section_param], float):
        problems.append((key, f"{name} is not a number: give its candidates in design.values"))
        return False
    return True


def _check_design_range(node: dict, model: MissionModel, searches: bool, lever_ok: bool, problems: list) -> None:
    """Problems of the design's search range: a search (no ``design.values``) over a valid lever needs
    ``design.low`` < ``design.high``, each allowed for the lever; candidates and a range together are refused."""
    low, high = node.get("low"), node.get("high")
    if searches and lever_ok:
        decl = model.section(node["variable"].split(".")[1]).param(node["variable"].split(".")[2])
        for key, value in (("design.low", low), ("design.high", high)):
            msg = "must be set (or give candidates in design.values)" if value is None else decl.violation(value)
            if msg:
                problems.append((key, f"{msg}, got {value}"))
        if low is not None and high is not None and not low < high:
            problems.append(("design.high", f"must be above design.low ({low}), got {high}"))
    elif not searches and (low is not None or high is not None):
        problems.append(
            ("design.values", "give either candidates (design.values) or a range (design.low, design.high), not both")
        )


def _design_goal(node: dict, model: MissionModel, problems: list) -> str:
    """The design's goal: ``design.goal``, by default the model's first goal (else its first phase); a problem if
    it is not a phase or goal of the model."""
    flags = [o.name for o in model.outputs if o.role == "goal"] or [o.name for o in model.outputs if o.role == "phase"]
    goal = node.get("goal") or flags[0]
    if goal not in [o.name for o in model.outputs if o.role in ("phase", "goal")]:
        problems.append(
            (
                "design.goal",
                f"{goal!r} is not a phase or goal of model '{model.name}' (allowed: "
                f"{', '.join(o.name for o in model.outputs if o.role in ('phase', 'goal'))})",
            )
        )
    return goal


def _design_resolution(node: dict, searches: bool, problems: list) -> float | None:
    """Check the design's target, confidence, resolution, grid and max_candidates; return the resolution (for a
    search over a valid range without one, the range over :data:`DESIGN_STEPS`)."""
    low, high = node.get("low"), node.get("high")
    if not 0 < node["target"] < 1:
        problems.append(("design.target", f"must be a probability in (0, 1), got {node['target']}"))
    if not 0.5 <= node["confidence"] < 1:
        problems.append(("design.confidence", f"must be in [0.5, 1), got {node['confidence']}"))
    resolution = node.get("resolution")
    if searches and resolution is None and low is not None and high is not None and low < high:
        resolution = (high - low) / DESIGN_STEPS
    if resolution is not None and resolution <= 0:
        problems.append(("design.resolution", f"must be > 0, got {resolution}"))
    _check_bounds(problems, "design.grid", node["grid"], 2)
    _check_bounds(problems, "design.max_candidates", node["max_candidates"], node["grid"])
    return resolution


def _check_design_extras(node: dict, model: MissionModel, params: dict, run: dict, problems: list) -> None:
    """Problems of the design's map (a second lever, with its values), its sensitivities (outputs of the model)
    and of a stopping rule (a design search runs every candidate on run.samples missions)."""
    mapping = node.get("map") or {}
    if mapping.get("variable"):
        if mapping["variable"] == node["variable"]:
            problems.append(("design.map.variable", f"must differ from design.variable ({node['variable']})"))
        elif _lever("design.map.variable", mapping["variable"], model, params, False, problems) and not mapping.get(
            "values"
        ):
            problems.append(("design.map.values", f"must list the values of {mapping['variable']} to map"))
    outputs = [o.name for o in model.outputs]
    unknown = [m for m in node.get("sensitivities") or () if m not in outputs]
    if unknown:
        problems.append(
            (
                "design.sensitivities",
                f"{', '.join(map(repr, unknown))} not outputs of model '{model.name}' (allowed: {', '.join(outputs)})",
            )
        )
    if (run.get("stop") or {}).get("halfwidth") is not None:
        problems.append(
            (
                "run.stop.halfwidth",
                "a design search evaluates every candidate on the same "
                "run.samples missions: leave run.stop.halfwidth null",
            )
        )


def _typed_values(lever: str | None, values, params: dict) -> tuple:
    """``values`` of ``lever`` as a tuple, numbers of a number lever as floats (1 and 1.0 alike)."""
    number = lever != SITE and isinstance(params.get((lever or "")[len("mission.") :]), float)
    return tuple(float(v) if number and isinstance(v, (int, float)) else v for v in values or ())


def _load_design(node: dict, model: MissionModel, params: dict, run: dict, problems: list) -> DesignSettings | None:
    """Validate the ``design`` section (None when no design search is asked for)."""
    mapping = node.get("map") or {}
    if not node.get("variable"):
        if mapping.get("variable"):
            problems.append(("design.variable", "must be set when design.map.variable is"))
        return None
    values, searches = tuple(node.get("values") or ()), not node.get("values")
    ok = _lever("design.variable", node["variable"], model, params, searches, problems)
    _check_design_range(node, model, searches, ok, problems)
    goal = _design_goal(node, model, problems)
    resolution = _design_resolution(node, searches, problems)
    _check_design_extras(node, model, params, run, problems)
    low, high = node.get("low"), node.get("high")
    return DesignSettings(
        node["variable"],
        None if low is None else float(low),
        None if high is None else float(high),
        _typed_values(node["variable"], values, params),
        node["direction"],
        goal,
        node["target"],
        node["confidence"],
        resolution,
        node["grid"],
        node["max_candidates"],
        mapping.get("variable"),
        _typed_values(mapping.get("variable"), mapping.get("values"), params),
        tuple(node.get("sensitivities") or ()),
    )


SALTELLI_MIN_BLOCKS = 2  # the estimators' standard errors need two blocks (a spread of per-block terms)


def _check_saltelli(variables: tuple[Variable, ...], run: dict, problems: list, notes: list) -> None:
    """Problems and notes of ``sampler=saltelli`` (:func:`campaign.sampling.saltelli_uniforms`): something must
    vary; at the epistemic level each draw needs two missions (its binomial noise is estimated from them); the
    campaign must hold whole blocks, and a partial last block is worth a note (the indices leave it out)."""
    design = saltelli_design(variables)
    if not design:
        problems.append(
            (
                "sampler",
                (
                    "'saltelli' needs at least one uncertain input that varies, but every "
                    "mission.<section>.uncertain.<input> is 'fixed': give one a distribution, or "
                    "use sampler=monte_carlo"
                ),
            )
        )
        return
    layout = saltelli_layout(design, run["inner_samples"])
    per_block, d = layout["missions_per_block"], layout["d"]
    where = f"{d} {layout['level']} input(s) vary, so a block is {d} + 2 = {d + 2} "
    if layout["level"] == Level.epistemic.value:
        where += f"outer draws of run.inner_samples={run['inner_samples']} missions ({per_block:,} missions)"
        if run["inner_samples"] < 2:
            problems.append(
                (
                    "run.inner_samples",
                    (
                        "sampler=saltelli over epistemic inputs estimates each draw's "
                        "probability and its binomial noise from its missions: needs "
                        f">= 2, got {run['inner_samples']}"
                    ),
                )
            )
            return
    else:
        where += "missions"
    blocks, rest = divmod(run["samples"], per_block)
    if blocks < SALTELLI_MIN_BLOCKS:
        problems.append(
            (
                "run.samples",
                (
                    f"sampler=saltelli needs at least {SALTELLI_MIN_BLOCKS} whole blocks: "
                    f"{where}, so run.samples >= {SALTELLI_MIN_BLOCKS * per_block:,}, got "
                    f"{run['samples']:,}"
                ),
            )
        )
    elif rest:
        notes.append(
            f"run.samples: {where}; the last {rest:,} missions form a partial block, left out of the "
            f"Saltelli indices (run.samples={blocks * per_block:,} or {(blocks + 1) * per_block:,} has "
            "none)"
        )


def _check_run(run: dict, sampler: str, problems: list) -> None:
    """Problems of the ``run`` section: sizes, seed, name, and a stopping rule's half-width (which needs
    ``sampler`` monte_carlo)."""
    _check_bounds(problems, "run.samples", run["samples"], 1)
    _check_bounds(problems, "run.inner_samples", run["inner_samples"], 1)
    _check_bounds(problems, "run.max_shard_size", run["max_shard_size"], 1)
    _check_bounds(problems, "run.batch_size", run["batch_size"], 1)
    _check_bounds(problems, "run.shard_size", run["shard_size"], 1, allow_none=True)
    if not 0 <= run["seed"] < 2**63:
        problems.append(("run.seed", f"must be in [0, 2^63), got {run['seed']}"))
    if not run["name"] or any(c in run["name"] for c in "/\\"):
        problems.append(("run.name", f"must be a non-empty name without path separators, got {run['name']!r}"))
    stop = run.get("stop") or {}
    if stop.get("halfwidth") is not None and not 0 < stop["halfwidth"] < 0.5:
        problems.append(
            ("run.stop.halfwidth", f"must be in (0, 0.5) (a probability's 95% half-width), got {stop['halfwidth']}")
        )
    if stop.get("halfwidth") is not None and sampler != SamplerKind.monte_carlo.value:
        problems.append(
            (
                "run.stop.halfwidth",
                "stopping at a target precision needs sampler=monte_carlo: its "
                "interval assumes independent draws, which quasi-random and Latin "
                f"hypercube points are not (got sampler={sampler})",
            )
        )


def _check_cluster(cl: dict, problems: list) -> None:
    """Problems of the ``cluster`` section's bounds."""
    _check_bounds(problems, "cluster.num_cpus", cl["num_cpus"], 1, allow_none=True)
    _check_bounds(problems, "cluster.cpus_per_task", cl["cpus_per_task"], 0, strict=True)
    _check_bounds(problems, "cluster.max_tasks_in_flight", cl["max_tasks_in_flight"], 1, allow_none=True)
    _check_bounds(problems, "cluster.task_retries", cl["task_retries"], 0)


def _load_mission(resolved: dict, stop: dict, problems: list, notes: list) -> tuple[MissionModel | None, list, list]:
    """The ``mission`` section: its model (None if unknown), parameters and uncertain variables, section by
    section, with the model's own check and a check of ``run.stop.on`` against its phases and goals. Keeps only
    the model's sections in ``resolved["mission"]`` (the provenance)."""
    mission = resolved["mission"]
    model = MODELS.get(mission["model"])
    params: list = []
    variables: list = []
    if model is None:
        problems.append(("mission.model", f"unknown model {mission['model']!r} (allowed: {', '.join(MODELS)})"))
    else:
        # Sections the model does not use are ignored, and left out of the provenance.
        resolved["mission"] = {"model": mission["model"], **{s.name: mission.get(s.name) for s in model.sections}}
        for s in model.sections:
            if mission.get(s.name) is None:
                problems.append((f"mission.{s.name}", f"is required by model '{model.name}'"))
                continue
            missing = _missing(mission[s.name], f"mission.{s.name}")
            if missing:
                problems += missing
                continue
            p, v = _load_section(s, mission[s.name], problems, notes)
            params += p
            variables += v
        if not problems and model.check is not None:
            problems += model.check(dict(params))
        flags = [o.name for o in model.outputs if o.role in ("phase", "goal")]
        unknown = [name for name in stop.get("on") or [] if name not in flags]
        if unknown:
            problems.append(
                (
                    "run.stop.on",
                    f"{', '.join(map(repr, unknown))} not a phase or goal of model "
                    f"'{model.name}' (allowed: {', '.join(flags)})",
                )
            )
    return model, params, variables


def _load_design_and_mass(
    resolved: dict, model: MissionModel | None, params: list, run: dict, problems: list
) -> tuple[DesignSettings | None, MassModel | None]:
    """The design search and the mass model that apply to this campaign (None each when not asked for, not
    applicable, or when there are problems already); what does not apply is dropped from ``resolved``."""
    design, mass = None, None
    if model is not None and not problems:
        design = _load_design(resolved.get("design") or {}, model, dict(params), run, problems)
        mass = MassModel(**resolved["mass"]) if resolved.get("mass") else None
        if mass is not None and not mass.applies_to(dict(params)):
            mass = None
        if design is None:
            resolved.pop("design", None)  # provenance: only what applies to this campaign
        if mass is None:
            resolved.pop("mass", None)
    return design, mass


def load(cfg: DictConfig) -> CampaignConfig:
    """Validate a composed config and return the typed campaign configuration (raises :class:`ConfigError`)."""
    resolved = _plain(cfg)
    problems: list[tuple[str, str]] = [p for key in ("run", "sampler", "cluster") for p in _missing(resolved[key], key)]
    if problems:
        raise ConfigError(problems)
    notes: list[str] = []
    run, cl = resolved["run"], resolved["cluster"]
    _check_run(run, resolved["sampler"]["name"], problems)
    _check_cluster(cl, problems)
    stop = run.get("stop") or {}
    model, params, variables = _load_mission(resolved, stop, problems, notes)
    design, mass = _load_design_and_mass(resolved, model, params, run, problems)
    sampler = SamplerKind(resolved["sampler"]["name"])
    if sampler is SamplerKind.saltelli and not problems:
        _check_saltelli(tuple(variables), run, problems, notes)
    if problems or model is None:  # (an unknown model is one of the problems)
        raise ConfigError(problems)
    return CampaignConfig(
        run=RunSettings(**{**run, "stop": StopSettings(stop.get("halfwidth"), tuple(stop.get("on") or ()))}),
        sampler=sampler,
        cluster=ClusterSettings(**cl),
        model=model,
        params=tuple(params),
        variables=tuple(variables),
        resolved=resolved,
        notes=tuple(notes),
        design=design,
        mass=mass,
    )
