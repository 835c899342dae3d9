"""Water science: how much water each planned site truly holds, what the instruments report, and the goals.

Ground truth (per science site). Water is patchy: a site is wet with probability ``wet_fraction_shadowed`` in or
at the edge of shadow and ``wet_fraction_sunlit`` elsewhere; dry ground holds the dry baseline (Chang'e-5 soil,
~37 ppm = 0.0037 wt%, DATA.md); wet ground holds a log-normal content whose mean is set so that shadowed ground
averages the regional mean (Lunar Prospector: ~1.5 +- 0.8 wt% water-equivalent hydrogen, DATA.md): the mean over
wet spots is ``regional_mean_wt / wet_fraction_shadowed``, i.e. several wt% (LCROSS found 5.6 +- 2.9 wt% in
Cabeus ejecta, DATA.md). The top ``dry_layer_m`` (drawn per site up to ``dry_layer_max_m``) is desiccated: a
sample from shallower than that is dry whatever lies below.

Measurement. A drilled sample goes to the analysers (REIWA: LTGA, ADORE, TRITON); the reported content is the
true content plus Gaussian noise of ``sqrt(abs^2 + (rel * true)^2)``: unbiased, and possibly negative, as a
measurement is reported. Water is *quantified* when the reported content exceeds the detection limit. The
ground-penetrating radar and the neutron spectrometer measure along the traverse whenever the rover drives with
them working.

Goals (defaults in conf/, configurable): quantified water in samples from the target depth at ``goal_sites``
sites, ``goal_shadow_sites`` of them in or at the edge of shadow, and an instrumented traverse of
``goal_traverse_km``. The flag is computed from what the rover measured, never from the ground truth.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._keys import indexed, open_uniform
from ._spec import Input, Param, Section

SECTION = Section(
    name="science",
    params=(
        Param(
            "site_shadowed",
            "1",
            "Per planned science site: 1 if in or at the edge of shadow, else 0",
            ge=0,
            le=1,
            kind="floats",
        ),
        Param("wet_fraction_shadowed", "1", "Probability that a shadowed site holds water", ge=0, le=1),
        Param("wet_fraction_sunlit", "1", "Probability that a sunlit site holds water", ge=0, le=1),
        Param("wet_sigma_log", "1", "Log-normal spread of the water content of wet ground", ge=0),
        Param("dry_water_wt", "wt%", "Water content of dry ground", ge=0),
        Param("dry_layer_max_m", "m", "Thickest desiccated overburden (uniform from 0)", ge=0),
        Param("detection_limit_wt", "wt%", "Reported content above which water counts as quantified", ge=0),
        Param("precision_rel", "1", "Relative precision of the analysers (1-sigma)", ge=0),
        Param("precision_abs_wt", "wt%", "Absolute precision of the analysers (1-sigma)", ge=0),
        Param("analyse_h", "h", "Analysis time per sample (heating, gas analysis)", gt=0),
        Param(
            "goal_sites", "1", "Sites with water quantified at the target depth the goal asks for", ge=0, integer=True
        ),
        Param("goal_shadow_sites", "1", "How many of those must be in or at the edge of shadow", ge=0, integer=True),
        Param("goal_traverse_km", "km", "Radar/neutron traverse length the goal asks for", ge=0),
    ),
    inputs=(
        Input("regional_mean_wt", "wt%", "Mean water content of shadowed ground in the region", (0.0, float("inf"))),
        Input("analysers_ok", "1", "1 if the sample analysers work, else 0", (0.0, 1.0)),
        Input("spectrometers_ok", "1", "1 if the radar and neutron spectrometer work, else 0", (0.0, 1.0)),
    ),
)


class Ground(NamedTuple):
    """Ground truth of the planned sites, shape (sites,)."""

    water_wt: jnp.ndarray  # below the dry layer
    dry_layer_m: jnp.ndarray
    wet: jnp.ndarray  # bool


def ground_truth(p, shadowed, regional_mean_wt, key) -> Ground:
    """Draw the water at each site (``shadowed``: bool, shape (sites,)) for one mission."""
    n = shadowed.shape[0]
    dtype = regional_mean_wt.dtype
    sites = jnp.arange(n)
    u_wet, u_dry_layer = (
        indexed(key, tag, sites, lambda k: open_uniform(k, dtype)) for tag in ("science/wet", "science/dry_layer")
    )
    z = indexed(key, "science/content", sites, lambda k: jax.random.normal(k, (), dtype))
    wet = u_wet < jnp.where(shadowed, p.wet_fraction_shadowed, p.wet_fraction_sunlit)
    wet_mean = regional_mean_wt / jnp.maximum(p.wet_fraction_shadowed, 1e-6)
    sigma = p.wet_sigma_log
    content = wet_mean * jnp.exp(sigma * z - 0.5 * sigma**2)
    return Ground(
        water_wt=jnp.where(wet, content, p.dry_water_wt), dry_layer_m=u_dry_layer * p.dry_layer_max_m, wet=wet
    )


def sample_water_wt(p, ground_water_wt, dry_layer_m, depth_m):
    """True water content of a sample taken at ``depth_m``."""
    return jnp.where(depth_m > dry_layer_m, ground_water_wt, p.dry_water_wt)


def precision_wt(p, true_wt):
    """1-sigma measurement error (wt%) of a sample holding ``true_wt``."""
    return jnp.sqrt(p.precision_abs_wt**2 + (p.precision_rel * true_wt) ** 2)


def measure(p, true_wt, normal):
    """Reported water content for a standard normal draw ``normal`` (unbiased: mean ``true_wt``)."""
    return true_wt + precision_wt(p, true_wt) * normal


def quantified(p, reported_wt):
    return reported_wt > p.detection_limit_wt


def goal_met(p, sites_quantified, shadow_sites_quantified, instrumented_km):
    """The water goal from what was measured: counts of sites with water quantified at the target depth (all,
    and shadowed) and the instrumented traverse length."""
    return (
        (sites_quantified >= p.goal_sites)
        & (shadow_sites_quantified >= p.goal_shadow_sites)
        & (instrumented_km >= p.goal_traverse_km)
    )
