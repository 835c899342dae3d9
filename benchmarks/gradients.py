"""Design sensitivities of the night-survival campaign: the numbers, the step, and the cost.

``python -m benchmarks.gradients [--samples 2048] [--out FILE] [overrides ...]``

1. :func:`campaign.gradients.design_gradients` for the battery, the insulation and the array area on the
   experiment's defaults (Connecting Ridge): the table.
2. The finite-difference step: the same at relative steps 1e-4 ... 5e-2, the finite difference and its SE against
   the pathwise mean (what ``RELATIVE_STEP`` rests on).
3. The cost of one pass over the missions, repeated (median of ``--repeats``; process CPU seconds and wall
   seconds, compilation excluded): the forward model, forward mode for the three design values (what the tool
   runs), and reverse mode (``jax.grad`` of one metric's batch mean, per-mission gradients through a per-mission
   copy of the design values) for comparison.

Writes every figure to ``benchmarks/results/<time>_gradients.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

VARIABLES = (
    "mission.power.battery_capacity_wh",
    "mission.thermal.insulation_conductance_w_per_k",
    "mission.power.array_area_m2",
)
SMOOTH = (
    "worst_night_energy_margin_wh",
    "min_soc",
    "min_box_temp_k",
    "max_box_temp_k",
    "energy_generated_kwh",
    "heater_energy_kwh",
)
STEPS = (1e-4, 1e-3, 1e-2, 2e-2, 5e-2)


def step_scan(config, samples: int) -> list[dict]:
    """Finite difference (and SE) of each smooth metric at each relative step, beside the pathwise mean."""
    from campaign import gradients

    rows = []
    for step in STEPS:
        result = gradients.design_gradients(config, VARIABLES, SMOOTH, samples, relative_step=step)
        for s in result["sensitivities"]:
            rows.append(
                {
                    "relative_step": step,
                    "metric": s["metric"],
                    "variable": s["variable"],
                    "finite_difference": s["finite_difference"]["derivative"],
                    "se": s["finite_difference"]["se"],
                    "path_changes": s["path_changes"],
                    "pathwise": (s["pathwise"] or {}).get("derivative"),
                }
            )
    return rows


def costs(config, samples: int, repeats: int) -> dict:
    """Median process CPU and wall seconds of one pass over ``samples`` missions: forward, forward mode (one
    direction per design value, vmapped), reverse mode for one metric."""
    import jax
    import jax.numpy as jnp

    from campaign import gradients
    from campaign.models import MODELS

    variables = gradients.resolve_variables(config, VARIABLES)
    missions = gradients.campaign_missions(config, samples)
    batches = gradients._Batches(config, missions)
    params, tables = gradients._params(config, gradients.Design.of(config))
    keys = tuple(v.key for v in variables)
    theta = jnp.stack([params[k] for k in keys])
    floats = tuple(o.name for o in config.model.outputs if o.kind.value == "float")
    model = MODELS[config.model.name]

    def reverse(theta, params, tables, inputs, mission_keys):
        n = mission_keys.shape[0]

        def total(thetas):  # a copy of the design values per mission: the gradient of the sum is per mission
            def one(t, i, k):
                return model.simulate(model.params_of({**params, **dict(zip(keys, t))}), model.inputs_of(i), tables, k)

            return jnp.sum(jax.vmap(one)(thetas, inputs, mission_keys)["worst_night_energy_margin_wh"])

        return jax.grad(total)(jnp.broadcast_to(theta, (n, theta.size)))

    passes = {
        "forward": (gradients._forward(config.model.name), (params, tables)),
        "forward_mode_3_variables": (gradients._pathwise(config.model.name, keys, floats), (theta, params, tables)),
        "reverse_mode_1_metric": (jax.jit(reverse), (theta, params, tables)),
    }
    out = {}
    for name, (fn, args) in passes.items():
        batches.run(fn, *args)  # compile
        cpu, wall = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            cpu.append(batches.run(fn, *args)[1])
            wall.append(time.perf_counter() - start)
        out[name] = {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall)}
    for name in ("forward_mode_3_variables", "reverse_mode_1_metric"):
        out[name]["forward_passes"] = out[name]["cpu_s"] / out["forward"]["cpu_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gradients", description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for +experiment=night_survival")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="JSON file (default: benchmarks/results/<time>_gradients.json)")
    args = parser.parse_args(argv)
    from campaign import gradients

    config = gradients.compose("night_survival", args.overrides)
    result = gradients.design_gradients(config, VARIABLES, samples=args.samples)
    print(gradients.format_table(result), flush=True)
    scan = step_scan(config, args.samples)
    print("\nFinite difference against the step (pathwise mean beside it)")
    for r in scan:
        pathwise = "-" if r["pathwise"] is None else f"{r['pathwise']:.4g}"
        print(
            f"  {r['variable'][8:]:<40}{r['metric']:<30}{r['relative_step']:>8g}  {r['finite_difference']:>11.4g}"
            f" ({r['se']:.2g})  paths {r['path_changes']:>5}  pathwise {pathwise}"
        )
    cost = costs(config, args.samples, args.repeats)
    print("\nOne pass over the missions (median process CPU s; wall s)")
    for name, c in cost.items():
        extra = f"  = {c['forward_passes']:.1f} forward passes" if "forward_passes" in c else ""
        print(f"  {name:<28}{c['cpu_s']:8.2f}{c['wall_s']:8.2f}{extra}")
    out = Path(args.out or Path(__file__).parent / "results" / f"{datetime.now():%Y-%m-%d_%H-%M}_gradients.json")
    out.write_text(
        json.dumps(
            {"sensitivities": result, "step_scan": scan, "cost": cost, "overrides": args.overrides},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
