"""LUPEX campaign simulator: distributed Monte Carlo estimates of mission success for the ISRO/JAXA Lunar Polar
Exploration Mission.

Entry points: ``python -m campaign +experiment=NAME`` (Hydra app), :func:`campaign.app.run_campaign` (from
Python), and the Parquet results under ``results/``.
"""

__version__ = "0.1.0"
