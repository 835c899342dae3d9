"""Rover deployment: lowering the rover from the lander to the ground (sky-crane-like), and whether it works.

The lander rests tilted by the local slope at its touchdown point plus the settling of its legs. The rover is
lowered on tethers beside it; a tilted lander swings the rover against its structure and sets it down on a
slope, so the chance that the lowering fails rises steeply with the tilt: a logistic curve that is 1/2 at
``tilt_limit_deg`` with a width ``tilt_width_deg``. Independently of the terrain, the release and lowering
mechanism (pyrotechnic cutters, winch, tether cutters) fails with ``mechanism_failure_prob``.

One uniform draw decides both, so that on common random numbers a steeper landing can only turn a success into
a failure: the draw below ``mechanism_failure_prob`` is a mechanism failure, and above it the rest of the unit
interval is split by the tilt's failure probability.
"""

from __future__ import annotations

import jax.numpy as jnp

from . import rules
from ._spec import Input, Kind, Output, Param, Section

SECTION = Section(
    name="deployment",
    params=(
        Param("mechanism_failure_prob", "1", "Probability that release or lowering fails on level ground", ge=0, le=1),
        Param("tilt_limit_deg", "deg", "Lander tilt at which half of the deployments fail", gt=0, lt=90),
        Param("tilt_width_deg", "deg", "Width of the logistic failure curve around the limit", gt=0),
    ),
    inputs=(
        Input(
            "leg_settling_deg", "deg", "Tilt added by the legs' stroke and the ground settling under them", (0.0, 90.0)
        ),
    ),
)

OUTPUTS = (
    Output("deployment_ok", Kind.BOOL, "", "The rover stands on the ground, released from the lander", role="phase"),
    Output("lander_tilt_deg", Kind.FLOAT, "deg", "Tilt of the landed lander (slope plus leg settling)"),
)


def deploy(p, slope_deg, settling_deg, u) -> dict:
    """Deployment of one rover: ``p`` the ``deployment`` section's record, the local slope at touchdown, the
    legs' settling and one uniform draw ``u`` in (0, 1). Returns the outputs and ``outcome``
    (:func:`campaign.models.rules.deploy`, shared with the NumPy oracle)."""
    return rules.deploy(p, slope_deg, settling_deg, u, jnp)
