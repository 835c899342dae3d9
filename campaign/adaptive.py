"""Campaigns that stop at a target precision (``run.stop.halfwidth``), with ``run.samples`` as the cap.

The campaign is cut into shards of a size that depends only on the configuration (never on the number of
workers). Shards run as usual, several at a time; the :class:`Controller` folds each one in, in index order,
as soon as every shard before it is done: that is a *look*, after ``(shard id + 1) * shard_size`` missions. At
each look it updates, for every named probability, the confidence sequence of
:mod:`campaign.analysis.sequential` over the campaign's independent units (each mission, or each epistemic draw
when epistemic inputs vary), and stops the campaign at the first look where every named half-width is at most
the target. Whatever the workers and the order in which shards finish, the looks see the same missions in the
same order, so the campaign stops at the same look, with the same dataset (the missions before that look: shards
computed ahead of it are discarded). The interval at the stop is valid although the stop depended on the data,
and a stopped campaign continued with ``run.resume=true`` and a tighter target stays valid (the sequence covers
the truth at every look at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .analysis.sequential import SEQUENCE, ConfidenceSequence, unit_means

ALPHA = 0.05  # 95% intervals, as everywhere in the summary
SHARDS_AT_CAP = 512  # automatic shard size: about this many shards at run.samples (assumed: fine enough looks,
#                      few enough files)


def unit_size(inner_samples: int, epistemic: bool) -> int:
    """Missions per independent unit: an epistemic draw when epistemic inputs vary, else one mission."""
    return inner_samples if epistemic else 1


def shard_size(cap: int, batch_size: int, unit: int, requested: int | None = None) -> int:
    """The shard size of an adaptive campaign: a multiple of the batch (bit-identical results) and of the unit
    (every look sees whole epistemic draws), about :data:`SHARDS_AT_CAP` shards at the cap, or ``requested``
    rounded up to that multiple. It depends on the configuration only, so the looks do not depend on the
    workers."""
    base = math.lcm(batch_size, unit)
    if requested is not None:
        return base * math.ceil(requested / base)
    return base * max(1, math.ceil(cap / (base * SHARDS_AT_CAP)))


@dataclass
class Controller:
    """The looks of an adaptive campaign (see the module docstring).

    ``flags``: the named probabilities; ``unit``: missions per independent unit; ``shard_size``: missions per
    shard (a multiple of ``unit``); ``target``: the half-width to reach; ``cap``: ``run.samples``.
    :meth:`add` takes each shard's flag columns as it completes; :attr:`stopped_at` is the number of missions at
    the stopping look (None while running).
    """

    flags: tuple[str, ...]
    unit: int
    shard_size: int
    target: float
    cap: int
    looks: int = 0
    stopped_at: int | None = None
    _pending: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _next: int = 0
    _cs: ConfidenceSequence = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.shard_size % self.unit:
            raise ValueError(f"shard size {self.shard_size} is not a multiple of the unit {self.unit}")
        self._cs = ConfidenceSequence(ALPHA, shape=(len(self.flags),), target_half_width=self.target)

    @property
    def missions(self) -> int:
        """Missions folded in so far (the last look)."""
        return min(self._next * self.shard_size, self.cap)

    def add(self, shard_id: int, columns: dict[str, np.ndarray]) -> None:
        """Take shard ``shard_id``'s flag columns (name -> shape (rows,)) and look as far as the shards allow."""
        self._pending[shard_id] = np.stack([np.asarray(columns[f], dtype=float) for f in self.flags])
        while self.stopped_at is None and self._next in self._pending:
            self._cs.update(unit_means(self._pending.pop(self._next), self.unit))
            self._next += 1
            self.looks += 1
            if np.all(self._cs.half_width <= self.target) or self.missions >= self.cap:
                self.stopped_at = self.missions

    def should_stop(self) -> bool:
        return self.stopped_at is not None

    def status(self) -> str:
        """The progress line's note: the widest named half-width against the target."""
        if not self.looks:
            return f"target half-width {self.target:g}"
        widths = self._cs.half_width
        worst = int(np.argmax(widths))
        return f"half-width {self.flags[worst]} {widths[worst]:.4f} / target {self.target:g} (look {self.looks})"

    def record(self) -> dict:
        """Why and where the campaign stopped, for ``summary.json`` (``stop``) and the manifest."""
        met = bool(np.all(self._cs.half_width <= self.target))
        return {
            "reason": "target met" if met else "cap reached (run.samples)",
            "missions": self.missions,
            "looks": self.looks,
            "target_half_width": self.target,
            "on": list(self.flags),
            "half_widths": {f: float(w) for f, w in zip(self.flags, self._cs.half_width)},
            "unit_missions": self.unit,
            "shard_size": self.shard_size,
            "cap": self.cap,
            "method": SEQUENCE,
        }
