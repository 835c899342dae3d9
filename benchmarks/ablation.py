"""What each speed-up of the night-survival core buys: the model with one of them undone at a time, side by side.

``python -m benchmarks.ablation [--rounds 5] [--seconds 2]``

Every variant runs in its own process on one core (XLA single-threaded, the engine's compiled batch function,
no Ray), all started first and then timed in interleaved rounds of ``--seconds`` each, so that a change in the
machine's load affects them alike; the figure is the median over rounds. Undoing a speed-up is done by
replacing one function or constant of the model in that process (never on disk):

* ``no_computed_once``: ``power_thermal._computed_once`` returns its values untouched, so XLA recomputes the
  energy balance in every state field's fused loop;
* ``xla_arccos``: the disk fraction uses XLA's own ``arccos`` (a scalar library call per element);
* ``environment_per_step``: ``BLOCK_STEPS = 1``, the environment is computed inside the sequential scan;
* ``batch_256``: the night-survival experiment's previous batch size;
* ``numpy``: the vectorised NumPy mission (:mod:`tests.oracles.night_survival`), 8,192 missions per call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, os, sys, time
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
os.sched_setaffinity(0, {int(sys.argv[2])})
variant, precision, batch = sys.argv[1], sys.argv[3], int(sys.argv[4])
import numpy as np
from benchmarks.probes import compose
if variant == "numpy":
    from tests.oracles import night_survival as numpy_mission
    config = compose("+experiment=night_survival")
    from tests.oracles import flat_design
    params = flat_design(config.spec(batch))
    params["surface.step_index"] = params["surface.step_index"][:240]  # a tenth of the mission per call
    rng = np.random.default_rng(0)
    from benchmarks.peers import scipy_distribution
    inputs = {v.name: scipy_distribution(v.kind.value, v.theta)[0].rvs(size=batch, random_state=rng,
              **scipy_distribution(v.kind.value, v.theta)[1]) for v in config.variables}
    run = lambda first: numpy_mission.simulate(params, inputs)
    per_call = batch / 10
else:
    from campaign import engine
    from campaign.models import _math, power_thermal, site
    import jax.numpy as jnp
    if variant == "no_computed_once":
        power_thermal._computed_once = lambda unit, *values: values
    elif variant == "xla_arccos":
        _math.arccos = jnp.arccos
    elif variant == "environment_per_step":
        site.BLOCK_STEPS = 1
    config = compose("+experiment=night_survival", f"run.precision={precision}", f"run.batch_size={batch}")
    engine.configure_jax(precision)
    spec = config.spec(batch)
    run = lambda first: engine.evaluate_batch(spec, first)
    per_call = batch
run(0)
print("ready", flush=True)
calls = 0
for line in sys.stdin:
    t = time.perf_counter(); n = 0
    while time.perf_counter() - t < float(line):
        run(calls * batch); calls += 1; n += per_call
    print(json.dumps(n / (time.perf_counter() - t)), flush=True)
"""

VARIANTS = {  # name: (precision, batch)
    "current float32": ("float32", 2048),
    "current float64": ("float64", 2048),
    "no_computed_once float32": ("float32", 2048),
    "xla_arccos float32": ("float32", 2048),
    "environment_per_step float32": ("float32", 2048),
    "batch_256 float32": ("float32", 256),
    "batch_256 float64": ("float64", 256),
    "numpy": ("float64", 8192),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cpus = sorted(os.sched_getaffinity(0))
    procs = {}
    try:
        for k, (name, (precision, batch)) in enumerate(VARIANTS.items()):
            variant = name.split()[0] if name.split()[0] not in ("current", "batch_256") else "current"
            procs[name] = subprocess.Popen(
                [sys.executable, "-c", WORKER, variant, str(cpus[k % len(cpus)]), precision, str(batch)],
                cwd=repo,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        for name, p in procs.items():
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"variant {name} failed to start")
        rates = {name: [] for name in procs}
        load = [os.getloadavg()]
        for _ in range(args.rounds):
            for name, p in procs.items():  # one variant at a time: each has the core it is pinned to
                p.stdin.write(f"{args.seconds}\n")
                p.stdin.flush()
                rates[name].append(json.loads(p.stdout.readline()))
        load.append(os.getloadavg())
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
    base = statistics.median(rates["current float32"])
    print(f"Night survival, 100-day missions, one core per variant; load average {load[0]} before, {load[1]} after")
    print(f"  {'variant':<32} {'missions/s':>11} {'ns/mission-step':>16} {'current float32 is':>19}")
    for name, r in rates.items():
        m = statistics.median(r)
        print(f"  {name:<32} {m:>11,.0f} {1e9 / (m * 2400):>16.1f} {base / m:>18.2f}x")
    print(json.dumps({"load": load, "rates": rates}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
