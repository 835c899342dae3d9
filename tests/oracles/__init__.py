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
