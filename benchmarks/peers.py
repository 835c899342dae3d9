"""The peer tools, each used as its documentation recommends, on the same physics, the NumPy oracle of the
tests: :mod:`tests.oracles.night_survival` for the night-survival experiment, :mod:`tests.oracles.mission` for the
whole mission (which also draws, with NumPy, the random numbers the JAX model draws inside itself from each
mission's key; that cost is counted).

* **OpenTURNS**: an ``ot.PythonFunction`` with a vectorised ``func_sample`` (the whole sample in one NumPy call)
  and ``n_cpus`` processes (OpenTURNS splits each sample over a ``multiprocessing`` pool), evaluated on samples
  drawn from an ``ot.JointDistribution`` of the campaign's input distributions.
* **monaco**: a ``monaco.Sim`` with ``preprocess``/``run``/``postprocess`` functions, the inputs as ``InVar``
  distributions (``scipy.stats``), ``singlethreaded=False`` with ``ncores`` processes (its multiprocessing pool;
  Dask is its other option and is not installed here); ``run`` simulates one mission per case.
* **NumPy** alone, one process: the same vectorised function called directly (the per-core baseline).

Every peer runs ``repeat`` rounds until ``window_s`` seconds have passed (at least one) and reports missions per
second over the rounds it ran. The campaign (design values, the environment table, input distributions) comes
from a pickle the parent wrote (:func:`benchmarks.harness.write_campaign`), so no peer process runs JAX.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
import time
from functools import lru_cache

import numpy as np

from tests.oracles import mission as numpy_full_mission
from tests.oracles import night_survival as numpy_mission

CAMPAIGN_ENV = "LUPEX_BENCH_CAMPAIGN"  # path of the pickled campaign, inherited by pool workers


@lru_cache(maxsize=1)
def campaign() -> dict:
    """``{"model": name, "params": {...}, "variables": [(name, kind, theta), ...]}`` of the benchmarked campaign."""
    with open(os.environ[CAMPAIGN_ENV], "rb") as fh:
        return pickle.load(fh)


def input_names() -> list[str]:
    return [name for name, _, _ in campaign()["variables"]]


# What each peer returns per mission, by the campaign's model (the models the NumPy code implements).
OUTPUTS = {
    "night_survival": ("outcome", "surface_ok", "days_survived", "min_soc", "worst_night_energy_margin_wh"),
    "mission": ("outcome", "surface_ok", "water_goal_met", "days_survived", "km_driven"),
}


def outputs() -> tuple[str, ...]:
    return OUTPUTS[campaign()["model"]]


@lru_cache(maxsize=1)
def _generator() -> np.random.Generator:
    """This process's stream for the whole mission's internal draws (one per pool process)."""
    return np.random.default_rng([int(campaign().get("seed", 1)), os.getpid()])


def simulate(inputs: dict, n: int | None) -> dict:
    """The campaign's model on ``inputs`` (arrays of ``n`` missions, or scalars when ``n`` is None: one mission)."""
    c = campaign()
    if c["model"] == "night_survival":
        return numpy_mission.simulate(c["params"], inputs)
    draws = numpy_full_mission.draws(_generator(), c["params"], n or 1)
    if n is None:
        draws = {k: v[0] for k, v in draws.items()}
    return numpy_full_mission.simulate(c["params"], inputs, draws)


def scipy_distribution(kind: str, theta):
    """``(scipy.stats distribution, keyword arguments)`` of one of the campaign's input distributions."""
    from scipy import stats

    match kind:
        case "normal":
            return stats.norm, {"loc": theta[0], "scale": theta[1]}
        case "uniform":
            return stats.uniform, {"loc": theta[0], "scale": theta[1] - theta[0]}
        case "truncnormal":
            mean, std, low, high = theta
            return stats.truncnorm, {"a": (low - mean) / std, "b": (high - mean) / std, "loc": mean, "scale": std}
        case "lognormal":
            return stats.lognorm, {"s": theta[1], "scale": theta[0]}
        case "triangular":
            low, mode, high = theta
            return stats.triang, {"c": (mode - low) / (high - low), "loc": low, "scale": high - low}
        case "beta":
            a, b, low, high = theta
            return stats.beta, {"a": a, "b": b, "loc": low, "scale": high - low}
        case "bernoulli":
            return stats.bernoulli, {"p": theta[0]}
    raise ValueError(f"no scipy.stats mapping for a '{kind}' input in this benchmark")


def openturns_distribution(kind: str, theta):
    import openturns as ot

    match kind:
        case "normal":
            return ot.Normal(theta[0], theta[1])
        case "uniform":
            return ot.Uniform(theta[0], theta[1])
        case "truncnormal":
            return ot.TruncatedNormal(*theta)
        case "lognormal":
            return ot.LogNormal(math.log(theta[0]), theta[1], 0.0)
        case "triangular":
            return ot.Triangular(*theta)
        case "beta":
            return ot.Beta(*theta)
        case "bernoulli":
            return ot.Bernoulli(theta[0])
    raise ValueError(f"no OpenTURNS mapping for a '{kind}' input in this benchmark")


def simulate_sample(x) -> np.ndarray:
    """The vectorised model on an (n, inputs) sample: (n, len(outputs())) floats. Module level, so that pools
    can pickle it."""
    x = np.asarray(x, dtype=np.float64)
    out = simulate({name: x[:, j] for j, name in enumerate(input_names())}, x.shape[0])
    return np.stack([np.asarray(out[name], dtype=np.float64) for name in outputs()], axis=1)


# monaco's three functions (module level: its process pool pickles them with each case).
def monaco_preprocess(case):
    return tuple(case.invals[name].val for name in input_names())


def monaco_run(*values):
    out = simulate(dict(zip(input_names(), values)), None)
    return tuple(float(np.reshape(out[name], -1)[0]) for name in outputs())


def monaco_postprocess(case, *values):
    for name, value in zip(outputs(), values):
        case.addOutVal(name, value)


def _rounds(window_s: float, one_round) -> dict:
    """Call ``one_round() -> missions`` until ``window_s`` has passed; missions per second over all rounds."""
    missions, rounds, start = 0, 0, time.perf_counter()
    while rounds == 0 or time.perf_counter() - start < window_s:
        missions += one_round()
        rounds += 1
    seconds = time.perf_counter() - start
    return {"missions": missions, "seconds": seconds, "rounds": rounds, "missions_per_s": missions / seconds}


def run_numpy(args: dict) -> dict:
    rng = np.random.default_rng(args.get("seed", 1))
    n = int(args["sample"])
    from scipy import stats  # noqa: F401  (imported before timing, like the other peers' libraries)

    def one_round() -> int:
        x = np.column_stack(
            [
                dist.rvs(size=n, random_state=rng, **kw)
                for dist, kw in (scipy_distribution(k, t) for _, k, t in campaign()["variables"])
            ]
        )
        simulate_sample(x)
        return n

    return {"tool": "numpy", "processes": 1, **_rounds(float(args["window_s"]), one_round)}


def run_openturns(args: dict) -> dict:
    import openturns as ot

    ot.RandomGenerator.SetSeed(int(args.get("seed", 1)))
    joint = getattr(ot, "JointDistribution", None) or ot.ComposedDistribution
    inputs = joint([openturns_distribution(k, t) for _, k, t in campaign()["variables"]])
    processes = int(args["processes"])
    model = ot.PythonFunction(
        len(input_names()), len(outputs()), func_sample=simulate_sample, n_cpus=processes if processes > 1 else None
    )
    n = int(args["sample"])

    def one_round() -> int:
        y = model(inputs.getSample(n))
        assert y.getSize() == n
        return n

    return {
        "tool": "openturns",
        "version": ot.__version__,
        "processes": processes,
        **_rounds(float(args["window_s"]), one_round),
    }


def run_monaco(args: dict) -> dict:
    import monaco as mc

    processes = int(args["processes"])
    cases = int(args["sample"])
    fcns = {
        mc.SimFunctions.PREPROCESS: monaco_preprocess,
        mc.SimFunctions.RUN: monaco_run,
        mc.SimFunctions.POSTPROCESS: monaco_postprocess,
    }
    results = tempfile.mkdtemp(prefix="lupex-bench-monaco-")
    seed = int(args.get("seed", 1))

    def one_round() -> int:
        nonlocal seed
        sim = mc.Sim(
            name=campaign()["model"],
            ndraws=cases,
            fcns=fcns,
            firstcaseismedian=False,
            samplemethod=mc.SampleMethod.RANDOM,
            seed=seed,
            singlethreaded=processes == 1,
            ncores=processes,
            verbose=False,
            debug=True,
            resultsdir=results,
        )
        seed += 1
        for name, kind, theta in campaign()["variables"]:
            dist, kwargs = scipy_distribution(kind, theta)
            sim.addInVar(name=name, dist=dist, distkwargs=kwargs)
        sim.runSim()
        done = len(sim.casesrun)
        if getattr(sim, "pool", None) is not None:
            sim.pool.shutdown(wait=True)
        assert done == cases, f"monaco ran {done} of {cases} cases"
        return done

    from importlib.metadata import version

    return {
        "tool": "monaco",
        "version": version("monaco"),
        "processes": processes,
        **_rounds(float(args["window_s"]), one_round),
    }


def run(kind: str, args: dict) -> dict:
    return {"numpy": run_numpy, "openturns": run_openturns, "monaco": run_monaco}[kind](args)
