"""The estimator of every headline probability: Wilson's interval for independent missions, the Korn-Graubard
interval over epistemic draws with the epistemic band beside it when missions share states of knowledge, and the
confidence sequence's interval in a campaign that stopped at a target precision."""

from __future__ import annotations

import numpy as np

from .intervals import (
    FEW_DRAWS,
    KORN_GRAUBARD,
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
    epistemic band when missions share states of knowledge (see the module docstring)."""

    def __init__(self, res: Results):
        self.res = res
        self.epistemic_inputs = res.epistemic_inputs
        self.outer = res.clusters
        self.draws = int(np.unique(self.outer).size)
        self.clustered = bool(self.epistemic_inputs) and self.draws >= 2
        self.stop = res.stop

    def design(self) -> dict:
        """How the intervals were made, for ``summary.json`` (``design``) and the printed table."""
        out: dict = {"missions": self.res.n, "interval": KORN_GRAUBARD if self.clustered else WILSON,
                     "epistemic_inputs": self.epistemic_inputs}
        if self.clustered:
            out |= {"draws": self.draws, "missions_per_draw": self.res.inner_samples}
            if self.draws < FEW_DRAWS and not self.stop:
                out["warning"] = (f"the intervals rest on {self.draws} epistemic draws: below {FEW_DRAWS} they can "
                                  "cover less than 95% at small probabilities (tests/test_intervals.py); lower "
                                  "run.inner_samples or raise run.samples for more draws")
        if self.stop:
            out |= {"interval": SEQUENCE, "interval_fixed_n": out["interval"],
                    "stop": {k: self.stop[k] for k in ("reason", "missions", "target_half_width", "on")}}
        return out

    def probability(self, flag: np.ndarray, among: np.ndarray | None = None, band: bool = True) -> dict:
        """P(flag) (or P(flag | among)) with its interval and, when clustered and ``band``, the epistemic band."""
        flag = np.asarray(flag, dtype=bool)
        if not self.clustered:
            reached = flag.size if among is None else int(np.sum(among))
            hits = flag if among is None else flag & among
            out = proportion(int(np.sum(hits)), reached)
        else:
            out = clustered_proportion(flag, self.outer, among)
            if band:
                y, m = cluster_sums(flag if among is None else flag & among, self.outer)
                if among is not None:
                    m, _ = cluster_sums(among, self.outer)
                out["epistemic"] = epistemic_band(y[m > 0], m[m > 0])
        if self.stop and among is None:  # a ratio (conditional) keeps its fixed-size interval
            cs = sequence_by_shards(flag[None, :], self.stop["unit_missions"], self.stop["shard_size"],
                                    self.stop["target_half_width"])
            out |= {"ci95_fixed_n": out["ci95"], "interval_fixed_n": out["interval"],
                    "ci95": [float(cs.lower[0]), float(cs.upper[0])], "interval": SEQUENCE}
        return out
