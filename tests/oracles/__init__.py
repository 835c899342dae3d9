"""The NumPy oracle of the mission models: the same physics as :mod:`campaign.models`, written again in plain
NumPy, vectorised over missions, one time step after another, in Python loops.

It serves two purposes and lives outside the package because the campaign never runs it:

* the tests check the JAX models against it (``tests/test_numpy_mission.py``, ``tests/test_numpy_full_mission.py``,
  ``tests/test_power_thermal.py``);
* the benchmarks run it as the NumPy peer and inside OpenTURNS and monaco (``benchmarks/peers.py``).

Independent where that is the point: the integrators, the state handling and the time loops are written here
apart from the JAX models, since they are what the agreement tests compare. Shared where it is not: closed-form
phases and pure decision rules come from :mod:`campaign.models.rules`, one ``xp``-generic copy for both.

Modules, by model: :mod:`.power_thermal` (one power/thermal step), :mod:`.night_survival` (the night-survival
mission; its environment and bookkeeping serve the surface too), :mod:`.launch`, :mod:`.landing`,
:mod:`.surface` and :mod:`.mission` (the whole mission: its draws and the phase chain).

Only NumPy and SciPy run here (JAX is imported by the campaign modules but never used), so forked worker
processes are safe.
"""

from collections.abc import Mapping

import numpy as np


class Values(dict):
    """A section's values keyed by name, also read as attributes (``p.isp_s``), as the models and
    :mod:`campaign.models.rules` read the engine's typed records."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def section_params(values: Mapping[str, object], *sections: str) -> Values:
    """The values of ``values`` (keyed ``"<section>.<name>"``) belonging to ``sections``, keyed by ``name``."""
    prefixes = tuple(f"{s}." for s in sections)
    return Values({k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(prefixes)})


def flat_design(spec) -> dict:
    """The oracle's view of a campaign's design: the numeric design values of ``spec`` (a
    :class:`campaign.engine.CampaignSpec`) keyed ``"<section>.<name>"``, plus what the model's ``prepare``
    computed (``spec.tables``) under the oracle's own keys (``"env.table"``, ``"plan.legs_km"``, ...)."""
    out = dict(spec.params)
    tables = spec.tables
    landing = getattr(tables, "landing", None) if not hasattr(tables, "fix_index") else tables
    surface = getattr(tables, "surface", None) if not hasattr(tables, "legs_km") else tables
    site = surface.site if surface is not None else (tables if hasattr(tables, "window_offset_h") else None)
    if landing is not None:
        out.update(
            {
                "landing.step_index": landing.step_index,
                "landing.fix_index": landing.fix_index,
                "landing.relief_wavelength_m": landing.relief_wavelength_m,
                "landing.relief_amplitude_m": landing.relief_amplitude_m,
            }
        )
    if site is not None:
        out.update(
            {
                "env.table": site.table,
                "env.window_offset_h": site.window_offset_h,
                "surface.step_index": site.step_index,
            }
        )
    if surface is not None:
        out.update(
            {
                "plan.sun_hours_ahead": surface.sun_hours_ahead,
                "plan.legs_km": surface.legs_km,
                "plan.shadowed": surface.shadowed.astype(np.float64),
                "plan.attempt_slots": surface.attempt_slots,
            }
        )
    return out
