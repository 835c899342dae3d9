"""Confidence sequences: intervals that stay valid when a campaign stops because its intervals became narrow.

A fixed-size interval (Wilson, Korn-Graubard) covers the truth with 95% probability at a sample size chosen in
advance. A campaign that looks at its interval after every shard and stops once it is narrow enough chooses its
size from the data, and the interval at that data-dependent time covers less than 95% (looking repeatedly at a
fixed-size interval is the "optional stopping" problem). A confidence sequence ``(C_t)`` covers the truth at every
time simultaneously, ``P(for all t: mu in C_t) >= 1 - alpha``, so ``C_tau`` is valid at any stopping time ``tau``,
whatever rule chose it, and a stopped campaign can be continued later (to a tighter target) without losing
validity. A pre-declared look schedule with alpha spending (Lan & DeMets 1983) would also be valid, but only for
the schedule declared and the maximum size fixed in advance; a confidence sequence needs neither, which is what
``run.resume`` of a stopped campaign with a new target needs.

The sequence used is the predictable plug-in empirical-Bernstein confidence sequence of Waudby-Smith & Ramdas
(2023, "Estimating means of bounded random variables by betting", JRSS B 86, Theorem 2 and eq. (13)), for the
mean of independent, identically distributed values in [0, 1]. The values are the campaign's independent units in
index order: each mission's 0/1 outcome when every input is aleatory, else each epistemic draw's mean outcome over
its missions (the draws are i.i.d.; the missions within one are not). Its width adapts to the variance, so a
small probability gets a narrow sequence. It is reported with its running intersection ``cap_{s<=t} C_s``, also a
confidence sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SEQUENCE = "confidence sequence (empirical Bernstein, Waudby-Smith & Ramdas 2023)"
LAMBDA_MAX = 0.75  # the bet is truncated below 1 (the paper's c = 1/2 or 3/4; assumed 3/4)


def _psi(lam: np.ndarray) -> np.ndarray:
    """psi_E(lambda) = (-log(1 - lambda) - lambda) / 4 (the paper's eq. (7))."""
    return (-np.log1p(-lam) - lam) / 4.0


@dataclass
class ConfidenceSequence:
    """The empirical-Bernstein confidence sequence of the mean of values in [0, 1], updated as values arrive.

    ``update(x)`` appends the values ``x`` (shape (..., k): leading axes are independent sequences, the last is
    time) in order; ``interval`` is the running intersection of the sequence up to the last value: arrays
    ``(lower, upper)`` of the leading shape. Updating by chunks gives the sequence of one update with all values
    (up to the last bits of the running sums).
    """

    alpha: float = 0.05
    shape: tuple[int, ...] = ()
    target_half_width: float | None = None
    t: int = 0
    _sum_x: np.ndarray = field(init=False, repr=False)
    _sum_sq: np.ndarray = field(init=False, repr=False)
    _sum_lam: np.ndarray = field(init=False, repr=False)
    _sum_lam_x: np.ndarray = field(init=False, repr=False)
    _sum_v_psi: np.ndarray = field(init=False, repr=False)
    lower: np.ndarray = field(init=False)
    upper: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        zeros = np.zeros(self.shape)
        self._sum_x, self._sum_sq, self._sum_lam, self._sum_lam_x, self._sum_v_psi = (zeros.copy() for _ in range(5))
        self.lower, self.upper = zeros.copy(), np.ones(self.shape)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=float)
        k = x.shape[-1]
        if k == 0:
            return
        i = self.t + np.arange(1, k + 1, dtype=float)  # times of the new values, 1-based
        # Predictable estimates: mean and variance of the values before each one (eq. (13), with the priors
        # 1/2 and 1/4 standing in for an empty past).
        cum_x = self._sum_x[..., None] + np.cumsum(x, axis=-1)
        mu_prev = (0.5 + cum_x - x) / i  # mu_hat_{i-1} = (1/2 + sum_{j<i} x_j) / i
        mu_now = (0.5 + cum_x) / (i + 1)
        cum_sq = self._sum_sq[..., None] + np.cumsum((x - mu_now) ** 2, axis=-1)
        var_prev = (0.25 + cum_sq - (x - mu_now) ** 2) / i  # sigma2_hat_{i-1}
        log_term = math.log(2.0 / self.alpha)
        if self.target_half_width:
            # Tuned for the projected stopping time (a predictable choice, so validity holds): the sequence is
            # narrowest near the time at which its half-width reaches the target h, T* = 2 sigma^2 log(2/alpha) /
            # h^2 for the variance estimated so far; the bet sqrt(2 log(2/alpha) / (sigma^2 T*)) = h / sigma^2
            # makes the half-width h at T*. After T* the bets shrink as 1/sqrt(t).
            horizon = np.maximum(i, 2.0 * var_prev * log_term / self.target_half_width**2)
        else:  # the paper's schedule for a sequence without a target: tight at every time up to a log factor
            horizon = i * np.log1p(i)
        lam = np.minimum(np.sqrt(2.0 * log_term / (var_prev * horizon)), LAMBDA_MAX)
        v = 4.0 * (x - mu_prev) ** 2
        sum_lam = self._sum_lam[..., None] + np.cumsum(lam, axis=-1)
        sum_lam_x = self._sum_lam_x[..., None] + np.cumsum(lam * x, axis=-1)
        sum_v_psi = self._sum_v_psi[..., None] + np.cumsum(v * _psi(lam), axis=-1)
        centre = sum_lam_x / sum_lam
        half = (log_term + sum_v_psi) / sum_lam
        self.lower = np.maximum(self.lower, np.max(np.clip(centre - half, 0.0, 1.0), axis=-1))
        self.upper = np.minimum(self.upper, np.min(np.clip(centre + half, 0.0, 1.0), axis=-1))
        self._sum_x, self._sum_sq = cum_x[..., -1], cum_sq[..., -1]
        self._sum_lam, self._sum_lam_x, self._sum_v_psi = sum_lam[..., -1], sum_lam_x[..., -1], sum_v_psi[..., -1]
        self.t += k

    @property
    def half_width(self) -> np.ndarray:
        return (self.upper - self.lower) / 2.0


def confidence_sequence(x: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The running intersection of the confidence sequence of the values ``x`` (shape (k,), in [0, 1], in the
    order they were drawn), at their last value: ``(lower, upper)``."""
    cs = ConfidenceSequence(alpha)
    cs.update(x)
    return float(cs.lower), float(cs.upper)


def unit_means(values: np.ndarray, unit: int) -> np.ndarray:
    """The means of consecutive groups of ``unit`` values (the missions of one independent unit, in index order):
    ``values`` of shape (F, rows) -> (F, rows // unit); a last, partial unit is left out (its missions are not
    yet a whole draw)."""
    values = np.asarray(values, dtype=float)
    whole = values.shape[1] - values.shape[1] % unit
    return values[:, :whole].reshape(values.shape[0], -1, unit).mean(axis=2)


def sequence_by_shards(
    values: np.ndarray, unit: int, shard_size: int, target: float | None, alpha: float = 0.05
) -> ConfidenceSequence:
    """The confidence sequences of F probabilities from their 0/1 outcomes ``values`` (shape (F, n), missions in
    index order), fed shard by shard as a campaign that stops at a target feeds them
    (:class:`campaign.adaptive.Controller`), so the numbers are the campaign's own to the last bit."""
    cs = ConfidenceSequence(alpha, shape=(values.shape[0],), target_half_width=target)
    for first in range(0, values.shape[1], shard_size):
        cs.update(unit_means(values[:, first : first + shard_size], unit))
    return cs
