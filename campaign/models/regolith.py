"""Regolith surface temperature from a 1-D heat-conduction model with the Hayne et al. (2017) standard parameters.

Hayne, P. O. et al. (2017), Global regolith thermophysical properties of the Moon from the Diviner Lunar
Radiometer Experiment, JGR Planets 122, 2371-2400, Appendix A (DATA.md "Regolith thermal properties"):

* density rises from 1100 (surface) to 1800 kg/m3 (deep) as ``rho(z) = rho_d - (rho_d - rho_s) exp(-z/H)``,
  H = 0.06 m; the contact conductivity follows the density between 7.4e-4 and 3.4e-3 W/m/K;
* radiative conductivity ``k = k_c (1 + chi (T/350)^3)``, chi = 2.7;
* heat capacity ``c_p(T)`` the quartic polynomial of DATA.md;
* emissivity 0.95; albedo ``A(i) = A0 + a (i/45)^3 + b (i/90)^8`` (a = 0.06, b = 0.25); heat flow 0.018 W/m2.

Numerics: a finite-volume grid of cells growing geometrically from 2.5 mm to ~1 m depth, integrated implicitly in
time (backward Euler, coefficients and the linearised emission taken at the start of each step), so hour-long
steps are stable. It runs on the host once per campaign (NumPy/SciPy): the regolith does not depend on the rover,
so every mission of a campaign shares it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded

SIGMA = 5.670374419e-8  # Stefan-Boltzmann constant, W/m2/K4 (CODATA 2018, exact)
SOLAR_CONSTANT_W_M2 = 1361.0  # DATA.md


@dataclass(frozen=True)
class RegolithProperties:
    """Hayne et al. (2017) Table A1 standard values (DATA.md)."""

    density_surface_kg_m3: float = 1100.0
    density_deep_kg_m3: float = 1800.0
    h_parameter_m: float = 0.06
    conductivity_surface_w_mk: float = 7.4e-4
    conductivity_deep_w_mk: float = 3.4e-3
    chi: float = 2.7
    emissivity: float = 0.95
    albedo: float = 0.12
    albedo_a: float = 0.06
    albedo_b: float = 0.25
    heat_flow_w_m2: float = 0.018


def heat_capacity(temperature_k: np.ndarray) -> np.ndarray:
    """Specific heat (J/kg/K) of lunar regolith at ``temperature_k`` (Hayne et al. 2017, eq. A6)."""
    t = np.asarray(temperature_k, dtype=np.float64)
    return -3.6125 + 2.7431 * t + 2.3616e-3 * t**2 - 1.2340e-5 * t**3 + 8.9093e-9 * t**4


def albedo(incidence_deg: np.ndarray, props: RegolithProperties = RegolithProperties()) -> np.ndarray:
    """Bond albedo at solar incidence angle ``incidence_deg`` (Keihm 1984 form used by Hayne et al. 2017)."""
    i = np.clip(np.asarray(incidence_deg, dtype=np.float64), 0.0, 90.0)
    return props.albedo + props.albedo_a * (i / 45.0) ** 3 + props.albedo_b * (i / 90.0) ** 8


def absorbed_flux(
    elevation_deg: np.ndarray,
    disk_fraction: np.ndarray,
    distance_au: np.ndarray,
    props: RegolithProperties = RegolithProperties(),
) -> np.ndarray:
    """Absorbed solar flux (W/m2) on level ground for a Sun at ``elevation_deg`` with ``disk_fraction`` of its
    disk above the horizon."""
    elevation = np.asarray(elevation_deg, dtype=np.float64)
    cos_i = np.clip(np.sin(np.radians(elevation)), 0.0, 1.0)
    return (1 - albedo(90.0 - elevation, props)) * SOLAR_CONSTANT_W_M2 / distance_au**2 * cos_i * disk_fraction


def grid(first_m: float = 0.0025, growth: float = 1.1, depth_m: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Cell thicknesses and centre depths (m) of a geometric grid reaching ``depth_m``."""
    steps = [first_m]
    while sum(steps) < depth_m:
        steps.append(steps[-1] * growth)
    dz = np.array(steps)
    return dz, np.cumsum(dz) - dz / 2


def surface_temperature(
    flux_w_m2: np.ndarray, dt_s: float, initial_k: float | None = None, props: RegolithProperties = RegolithProperties()
) -> np.ndarray:
    """Surface (top-cell) temperature (K) after each step of an absorbed-flux series ``flux_w_m2`` (n,) sampled
    every ``dt_s`` seconds. The profile starts isothermal at ``initial_k`` (default: radiative equilibrium with
    the mean flux); spin the model up by prepending at least a few lunations of forcing."""
    dz, z = grid()
    rho = props.density_deep_kg_m3 - (props.density_deep_kg_m3 - props.density_surface_kg_m3) * np.exp(
        -z / props.h_parameter_m
    )
    kc = props.conductivity_deep_w_mk - (props.conductivity_deep_w_mk - props.conductivity_surface_w_mk) * (
        (props.density_deep_kg_m3 - rho) / (props.density_deep_kg_m3 - props.density_surface_kg_m3)
    )
    gap = 0.5 * (dz[:-1] + dz[1:])  # distance between neighbouring cell centres
    n = dz.size
    flux = np.asarray(flux_w_m2, dtype=np.float64)
    if initial_k is None:
        initial_k = max(((flux.mean() + props.heat_flow_w_m2) / (props.emissivity * SIGMA)) ** 0.25, 20.0)
    temp = np.full(n, float(initial_k))
    out = np.empty(flux.size)
    eps_sigma = props.emissivity * SIGMA
    for step, q_sun in enumerate(flux):
        k = kc * (1 + props.chi * (temp / 350.0) ** 3)
        k_face = 2 * k[:-1] * k[1:] / (k[:-1] + k[1:]) * 1.0 / gap  # harmonic mean conductance, W/m2/K
        cap = rho * heat_capacity(temp) * dz / dt_s  # W/m2/K
        # Emission linearised about the current surface temperature: e s T^4 ~ e s (4 T0^3 T - 3 T0^4).
        t0 = temp[0]
        diag = cap.copy()
        diag[:-1] += k_face
        diag[1:] += k_face
        diag[0] += 4 * eps_sigma * t0**3
        rhs = cap * temp
        rhs[0] += q_sun + 3 * eps_sigma * t0**4
        rhs[-1] += props.heat_flow_w_m2
        bands = np.zeros((3, n))
        bands[0, 1:] = -k_face
        bands[1] = diag
        bands[2, :-1] = -k_face
        temp = solve_banded((1, 1), bands, rhs)
        out[step] = temp[0]
    return out
