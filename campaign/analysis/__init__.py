"""Statistics of a campaign's results, computed from the Parquet dataset (the source of truth).

Knows Parquet and statistics, not models: column roles come from the schema's field metadata (``role=phase|goal|
metric|input``, ``unit``, ``level=aleatory|epistemic`` on inputs, ``valid_when`` on metrics that are null where a
phase was not reached), so it works on any run directory, on the union of a sweep's runs, and on any Parquet
dataset whose roles are named. One concept per module:

* :mod:`.loading`: :class:`Results`, the one loader (run, sweep or any Parquet dataset, on any pyarrow filesystem);
* :mod:`.intervals`: Wilson, Korn-Graubard over epistemic draws, the epistemic band, cluster-robust means;
* :mod:`.sequential`: confidence sequences for campaigns that stop at a target precision;
* :mod:`.summary`: the headline (phases, goals, conditional, failures, metrics, landing, the landing's physics
  beside the record-based fault term, the ascent reliability in use) and :func:`analyse`;
* :mod:`.survival`: Kaplan-Meier with Greenwood's band, and surface failures on the calendar;
* :mod:`.convergence`: running estimates against the number of missions;
* :mod:`.sensitivity`: given-data first-order indices, Spearman, the Saltelli design's first-order and total
  indices (centred Saltelli/Jansen estimators, noise-corrected at the epistemic level);
* :mod:`.epistemic`: the spread of P across states of knowledge and the variance share of each epistemic input;
* :mod:`.trade`: sweeps compared design by design on common random numbers.
"""

from .convergence import convergence, sample_counts
from .epistemic import epistemic, epistemic_spread, variance_shares
from .headline import Headline
from .intervals import (
    KORN_GRAUBARD,
    KORN_GRAUBARD_BLOCKS,
    WILSON,
    Z95,
    clustered_proportion,
    epistemic_band,
    korn_graubard,
    korn_graubard_bounds,
    mean_interval,
    proportion,
    wilson_bounds,
    wilson_interval,
)
from .loading import Location, MetadataError, Results, run_dirs, swept_keys
from .sensitivity import (
    MIN_SHARE,
    default_bins,
    first_order_given_data,
    influential,
    radial_indices,
    rank_correlation,
    restated_input,
    saltelli,
    saltelli_indices,
    saltelli_matrices,
    sensitivity,
)
from .summary import (
    ASCENT_RELIABILITY_ROLE,
    LANDING_RECORD_ROLES,
    LANDING_ROLES,
    TOUCHDOWN_SPEED_ROLES,
    analyse,
    ascent_reliability,
    format_ascent_reliability,
    format_landing_record,
    format_summary,
    json_safe,
    landing_dispersion,
    landing_record,
    pareto,
    summarize,
)
from .survival import DATE_ROLE, SURVIVAL_ROLE, KaplanMeier, failure_dates, kaplan_meier, survival
from .trade import paired_difference, trade_study

__all__ = [
    "ASCENT_RELIABILITY_ROLE",
    "LANDING_RECORD_ROLES",
    "KORN_GRAUBARD",
    "KORN_GRAUBARD_BLOCKS",
    "DATE_ROLE",
    "LANDING_ROLES",
    "SURVIVAL_ROLE",
    "TOUCHDOWN_SPEED_ROLES",
    "WILSON",
    "Z95",
    "Headline",
    "KaplanMeier",
    "MIN_SHARE",
    "Location",
    "MetadataError",
    "Results",
    "analyse",
    "ascent_reliability",
    "clustered_proportion",
    "convergence",
    "default_bins",
    "epistemic",
    "epistemic_band",
    "epistemic_spread",
    "failure_dates",
    "first_order_given_data",
    "format_ascent_reliability",
    "format_landing_record",
    "format_summary",
    "influential",
    "json_safe",
    "kaplan_meier",
    "korn_graubard",
    "korn_graubard_bounds",
    "landing_dispersion",
    "landing_record",
    "mean_interval",
    "paired_difference",
    "pareto",
    "proportion",
    "radial_indices",
    "restated_input",
    "rank_correlation",
    "run_dirs",
    "saltelli",
    "saltelli_indices",
    "saltelli_matrices",
    "sample_counts",
    "sensitivity",
    "summarize",
    "survival",
    "swept_keys",
    "trade_study",
    "variance_shares",
    "wilson_bounds",
    "wilson_interval",
]
