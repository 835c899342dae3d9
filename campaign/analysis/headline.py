"""The estimator of every headline probability: Wilson's interval for independent missions, the Korn-Graubard
interval over epistemic draws (or a Saltelli design's blocks) with the epistemic band beside it when missions
share states of knowledge, and the confidence sequence's interval in a campaign that stopped at a target
precision."""

from __future__ import annotations

import numpy as np

from .intervals import (
    FEW_DRAWS,
    KORN_GRAUBARD,
    KORN_GRAUBARD_BLOCKS,
    WILSON,
    cluster_sums,
    clustered_proportion,
    epistemic_band,
    proportion,
)
from .loading import Results
from .sequential import SEQUENCE, sequence_by_shards


class Headline:
    """The estimator of a dataset's probabilities: Wilson for independent missions, Korn-Graubard with the
    epistemic band when missions share states of knowledge (see the module docstring). The interval's clusters
    are the design's independent units (:attr:`.loading.Results.clusters`: the epistemic draws, or the blocks of
    a Saltelli design, whose rows share base points); the band is always over the epistemic draws. After a stop
    at a target precision (``res.stop``), unconditional probabilities carry the confidence sequence's interval."""

    def __init__(self, res: Results):
        self.res = res
        self.epistemic_inputs = res.epistemic_inputs
        self.outer = res.outer
        self.clusters = res.clusters
        self.saltelli = res.saltelli_design
        self.draws = int(np.unique(self.outer).size)
        self.units = int(np.unique(self.clusters).size)
        self.clustered = (bool(self.epistemic_inputs) or self.saltelli is not None) and self.units >= 2
        self.interval = KORN_GRAUBARD_BLOCKS if self.saltelli is not None else KORN_GRAUBARD
        self.stop = res.stop

    def design(self) -> dict:
        """How the intervals were made, for ``summary.json`` (``design``) and the printed table."""
        out: dict = {
            "missions": self.res.n,
            "interval": self.interval if self.clustered else WILSON,
            "epistemic_inputs": self.epistemic_inputs,
        }
        if self.clustered:
            unit = "epistemic draws"
            if self.epistemic_inputs:
                out |= {"draws": self.draws, "missions_per_draw": self.res.inner_samples}
            if self.saltelli is not None:
                unit = "Saltelli blocks"
                out |= {"blocks": self.units, "missions_per_block": int(self.saltelli["missions_per_block"])}
            if self.units < FEW_DRAWS and not self.stop:
                out["warning"] = (
                    f"the intervals rest on {self.units} {unit}: below {FEW_DRAWS} they can "
                    "cover less than 95% at small probabilities (tests/test_intervals.py); lower "
                    f"run.inner_samples or raise run.samples for more {unit}"
                )
        if self.stop:
            out |= {
                "interval": SEQUENCE,
                "interval_fixed_n": out["interval"],
                "stop": {k: self.stop[k] for k in ("reason", "missions", "target_half_width", "on")},
            }
        return out

    def probability(self, flag: np.ndarray, among: np.ndarray | None = None, band: bool = True) -> dict:
        """P(flag) (or P(flag | among)) with its interval and, when clustered and ``band``, the epistemic band."""
        flag = np.asarray(flag, dtype=bool)
        if not self.clustered:
            reached = flag.size if among is None else int(np.sum(among))
            hits = flag if among is None else flag & among
            out = proportion(int(np.sum(hits)), reached)
        else:
            out = clustered_proportion(flag, self.clusters, among) | {"interval": self.interval}
            if band and self.epistemic_inputs:
                y, m = cluster_sums(flag if among is None else flag & among, self.outer)
                if among is not None:
                    m, _ = cluster_sums(among, self.outer)
                out["epistemic"] = epistemic_band(y[m > 0], m[m > 0])
        if self.stop and among is None:  # a ratio (conditional) keeps its fixed-size interval
            cs = sequence_by_shards(
                flag[None, :], self.stop["unit_missions"], self.stop["shard_size"], self.stop["target_half_width"]
            )
            out |= {
                "ci95_fixed_n": out["ci95"],
                "interval_fixed_n": out["interval"],
                "ci95": [float(cs.lower[0]), float(cs.upper[0])],
                "interval": SEQUENCE,
            }
        return out
