"""How far the night-survival core is from the CPU's arithmetic limit: XLA's own operation count against a run's time.

``python -m benchmarks.flops [--from-json benchmarks/results/2026-11-21_full.json] [--ghz 2.6]``

Compiles (never runs) the pieces of the engine's batch function with XLA's CPU backend and reads
``cost_analysis()``: the power/thermal step that the sequential scan repeats (:func:`power_thermal.step`,
vmapped over a batch) and the environment of a block of ``BLOCK_STEPS`` steps (computed off the sequential path),
each per mission-step; and the engine's whole compiled batch, in which XLA counts every loop body once whatever
its trip count (a cross-check: setup + one block's environment + one step). With ``--from-json`` it sets them
against the measured ns per mission-step of a ``python -m benchmarks`` run at the same batch size, and against
the peak of a core with two 256-bit FMA units per cycle (AVX2: 32 float32 or 16 float64 flops per cycle; a
multiply-add counts two) and the rate of two vector operations per cycle (16 float32 or 8 float64 lanes), the
ceiling for code like this, whose operations are mostly not multiply-add pairs (XLA counts every compare,
select, min and max as a flop). A few seconds of one core per precision (compilation only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from unittest import mock

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

KEYS = ("flops", "transcendentals", "bytes accessed")


def _cost(compiled) -> dict[str, float]:
    c = compiled.cost_analysis()
    c = c[0] if isinstance(c, list) else c
    return {k: float(c.get(k, 0.0)) for k in KEYS}


def counts(precision: str, batch: int) -> dict:
    """XLA's counts per mission-step for the step and the environment, and for the engine's batch (once)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.probes import compose
    from campaign import engine
    from campaign.models import night_survival as ns
    from campaign.models import power_thermal as pt
    from campaign.models import site as sitemod

    config = compose("+experiment=night_survival", f"run.precision={precision}", f"run.batch_size={batch}")
    engine.configure_jax(precision)
    spec = config.spec(batch)
    dtype = spec.dtype
    model = config.model
    params = model.params_of({k: engine._as_param(v, dtype) for k, v in spec.params})
    tables = jax.tree_util.tree_map(lambda v: engine._as_param(v, dtype), spec.tables)
    rng = np.random.default_rng(0)
    inputs = model.inputs_of({v.name: jnp.asarray(rng.uniform(0.9, 1.1, batch), dtype) for v in spec.variables})
    env = pt.Env(
        **{
            name: jnp.asarray(rng.uniform(size=batch) > 0.5)
            if name == "earth_visible"
            else jnp.asarray(rng.uniform(0.1, 1.0, batch), dtype)
            for name in pt.Env._fields
        }
    )
    dt_h = params.surface.step_hours  # traced, as in the engine (see power_thermal._computed_once)

    def start(params, inputs):
        return jax.vmap(lambda i: pt.init(ns.rover_parameters(params, i), dtype))(inputs)

    def one_step(params, inputs, env, dt_h):
        def one(i, e):
            p = ns.rover_parameters(params, i)
            return pt.step(p, pt.init(p, dtype), e, dt_h)

        return jax.vmap(one)(inputs, env)

    def environment_block(params, inputs, block):
        table = sitemod.site_table(params, tables)

        def one(i):
            position = sitemod.step_position(
                sitemod.landing_position(params, i, tables),
                block,
                params.surface.step_hours / sitemod.TABLE_STEP_HOURS,
                table.shape[0],
            )
            return sitemod.environment_at(table, sitemod.horizon_shift_deg(params, i), *position)

        return jax.vmap(one)(inputs)

    init = _cost(jax.jit(start).lower(params, inputs).compile())
    step = _cost(jax.jit(one_step).lower(params, inputs, env, dt_h).compile())
    block = jnp.arange(sitemod.BLOCK_STEPS, dtype=jnp.int32)
    environment = _cost(jax.jit(environment_block).lower(params, inputs, block).compile())
    out = {
        "precision": precision,
        "batch": batch,
        "steps": int(len(spec.tables.step_index)),
        "block_steps": sitemod.BLOCK_STEPS,
        "step": {k: (step[k] - init[k]) / batch for k in KEYS},
        "environment": {k: environment[k] / (batch * sitemod.BLOCK_STEPS) for k in KEYS},
    }
    out["per_mission_step"] = {k: out["step"][k] + out["environment"][k] for k in KEYS}

    calls = []  # the engine's own compiled batch, lowered with the arguments evaluate_batch gives it
    real = engine.compiled

    def recording(*key):
        fn = real(*key)
        return lambda *args: calls.append((fn, args)) or ({}, {})

    with mock.patch.object(engine, "compiled", recording):
        engine.evaluate_batch(spec, 0)
    fn, args = calls[0]
    out["engine_batch_per_mission_once"] = {k: v / batch for k, v in _cost(fn.lower(*args).compile()).items()}
    return out


def cpu_ghz() -> float | None:
    try:
        return next(float(line.split(":")[1]) / 1000 for line in open("/proc/cpuinfo") if line.startswith("cpu MHz"))
    except (OSError, StopIteration, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.flops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--precisions", type=lambda s: tuple(s.split(",")), default=("float32", "float64"))
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--from-json", type=str, help="a python -m benchmarks run: its measured ns per mission-step")
    parser.add_argument("--ghz", type=float, default=cpu_ghz(), help="core clock (default: cpu MHz of /proc/cpuinfo)")
    args = parser.parse_args(argv)
    measured = {}
    if args.from_json:
        variants = json.load(open(args.from_json)).get("cost", {}).get("variants", {})
        measured = {
            p: variants[f"{p} batch={args.batch}"]["ns_per_mission_step"]
            for p in args.precisions
            if f"{p} batch={args.batch}" in variants
        }
    for precision in args.precisions:
        c = counts(precision, args.batch)
        print(f"{precision}, batch {args.batch}, {c['steps']} steps; XLA's counts per mission-step:")
        for part in ("step", "environment", "per_mission_step"):
            v = c[part]
            print(
                f"  {part:<17} {v['flops']:7.1f} flops {v['transcendentals']:5.2f} transcendentals "
                f"{v['bytes accessed']:7.1f} bytes accessed"
            )
        e = c["engine_batch_per_mission_once"]
        print(
            f"  engine batch, each loop body once, per mission: {e['flops']:,.0f} flops "
            f"(setup ~{e['flops'] - c['step']['flops'] - c['block_steps'] * c['environment']['flops']:,.0f})"
        )
        ns_ = measured.get(precision)
        if ns_ and args.ghz:
            flops = c["per_mission_step"]["flops"]
            lanes = 8 if precision == "float32" else 4
            cycles = ns_ * args.ghz
            print(
                f"  measured {ns_:.1f} ns = {cycles:.0f} cycles at {args.ghz:.2f} GHz: "
                f"{flops / cycles:.1f} flops/cycle, "
                f"{flops / ns_:.1f} GFLOP/s, {c['per_mission_step']['bytes accessed'] / ns_:.0f} GB/s accessed"
            )
            for label, per_cycle in (("FMA peak", 4 * lanes), ("2 vector ops/cycle", 2 * lanes)):
                best = flops / per_cycle / args.ghz
                print(
                    f"  at the {label} ({per_cycle} flops/cycle): {best:.1f} ns, the measured time is {ns_ / best:.1f}x"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
