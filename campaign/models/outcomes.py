"""Outcome codes: the first failing phase of a mission and its cause, written as one integer column.

Codes are grouped by phase in blocks of ten so that ``code // 10`` is the phase number. Codes are stable
identifiers stored in result files: never renumber one, only add.
"""

from __future__ import annotations

import enum


class Phase(enum.IntEnum):
    COMPLETE = 0
    LAUNCH = 1
    TRANSFER = 2
    LANDING = 3
    DEPLOYMENT = 4
    SURFACE = 5


class Outcome(enum.IntEnum):
    """First failure of a mission (``SUCCESS`` when every modelled phase succeeded)."""

    SUCCESS = 0
    # launch: H3 ascent to lunar-transfer injection
    LAUNCH_VEHICLE_FAILURE = 10
    # transfer: trajectory corrections, lunar orbit insertion, descent-orbit burns, descent propellant
    ENGINE_FAILURE_TCM = 20
    ENGINE_FAILURE_LOI = 21
    ENGINE_FAILURE_DOI = 22
    PROPELLANT_DEPLETED_BEFORE_PDI = 23
    PROPELLANT_SHORT_FOR_DESCENT = 24
    # landing: powered descent to touchdown
    LANDING_CRASH = 30  # impact faster than the structure survives
    LANDING_TIP_OVER = 31  # came to rest on its side (slope and horizontal speed)
    LANDING_PROPELLANT_EXHAUSTED = 32  # ran dry before touchdown and fell
    LANDING_HAZARD = 33  # upright but on a slope or rock beyond the limits
    LANDING_HARD = 34  # touchdown speed beyond the specification, below destruction
    LANDING_UNMODELLED_FAULT = 35  # physically safe, lost to the record-based fault term (software, procedure)
    # deployment: the rover lowered from the lander to the ground
    DEPLOYMENT_MECHANISM = 40  # release, lowering or cutter failure, whatever the terrain
    DEPLOYMENT_TILT = 41  # lander attitude and ground slope beyond what the lowering tolerates
    # surface: survival of every darkness period and of the days between
    SURFACE_FROZE_BATTERY_EXHAUSTED = 50  # battery at its floor, heater unpowered, box below survival temperature
    SURFACE_FROZE_HEATER_LIMITED = 51  # battery not empty, but the heater at full power could not hold the box
    SURFACE_OVERHEATED = 52  # box above its maximum temperature
    SURFACE_COMPONENT_FAILURE = 53  # a random failure of a single-string component (avionics, power, radio)
    SURFACE_THERMAL_FATIGUE = 54  # thermal cycling broke solder joints or harness before the mission's end

    @property
    def phase(self) -> Phase:
        return Phase(self.value // 10)
