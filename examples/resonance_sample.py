"""A physics-like toy: a narrow resonance decaying to two objects, over a falling background.

Each event has two objects with (pt, eta, phi, m). The signal is a 125 GeV resonance
produced with some transverse momentum and decaying isotropically; the background is a
falling continuum whose decays are forward (large |delta eta|) and softer. A background-
shape systematic tilts the mass spectrum: the up/down variations are per-event weights
exp(+-tilt * (m - 125)), normalised to keep the total yield.

    python examples/resonance_sample.py OUTDIR --events 200000   # writes signal.root, background.root
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MASS, WIDTH = 125.0, 2.5
TILT = 0.004  # per GeV: the background-shape systematic
BASKET = 100_000  # entries per ROOT basket
OBJECTS = ("ph1", "ph2")  # the two decay products, leading first
BRANCHES = tuple(f"{o}_{v}" for o in OBJECTS for v in ("pt", "eta", "phi", "mass")) + ("weight_up", "weight_down")


def _decay(masses: np.ndarray, cos_theta: np.ndarray, rng, system_pt_scale: float, rapidity_width: float):
    """Lab-frame (pt, eta, phi, m) of the two massless-ish daughters of systems of the given masses."""
    n = len(masses)
    m_daughter = 0.1
    p = np.sqrt(np.maximum((masses / 2) ** 2 - m_daughter**2, 0))
    phi_star = rng.uniform(0, 2 * np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    e = np.sqrt(p**2 + m_daughter**2)
    d1 = np.stack([e, p * sin_theta * np.cos(phi_star), p * sin_theta * np.sin(phi_star), p * cos_theta])
    d2 = d1 * np.array([[1], [-1], [-1], [-1]])

    # boost of the system: transverse momentum and rapidity
    pt_sys = rng.exponential(system_pt_scale, n)
    phi_sys = rng.uniform(0, 2 * np.pi, n)
    y_sys = rng.normal(0, rapidity_width, n)
    mt_sys = np.sqrt(masses**2 + pt_sys**2)
    system = np.stack([mt_sys * np.cosh(y_sys), pt_sys * np.cos(phi_sys), pt_sys * np.sin(phi_sys),
                       mt_sys * np.sinh(y_sys)])
    return [_kinematics(_boost(d, system, masses), m_daughter) for d in (d1, d2)]


def _boost(four: np.ndarray, system: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Boost ``four`` from the rest frame of ``system`` into the lab."""
    beta = system[1:] / system[0]
    gamma = system[0] / mass
    bp = np.sum(beta * four[1:], axis=0)
    b2 = np.sum(beta**2, axis=0)
    factor = np.where(b2 > 0, (gamma - 1) * bp / np.where(b2 > 0, b2, 1), 0)
    e = gamma * (four[0] + bp)
    space = four[1:] + beta * (factor + gamma * four[0])
    return np.concatenate([e[None], space])


def _kinematics(four: np.ndarray, m: float) -> dict[str, np.ndarray]:
    px, py, pz = four[1:]
    pt = np.hypot(px, py)
    return {"pt": pt, "eta": np.arcsinh(pz / pt), "phi": np.arctan2(py, px), "mass": np.full_like(pt, m)}


def generate(sample: str, n_events: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Events of ``signal`` or ``background`` as float32 columns (``ph1_pt``, ...), leading object first."""
    rng = np.random.default_rng(seed + (0 if sample == "signal" else 1))
    if sample == "signal":
        masses = rng.normal(MASS, WIDTH, n_events)
        cos_theta = rng.uniform(-1, 1, n_events)
        first, second = _decay(masses, cos_theta, rng, system_pt_scale=45.0, rapidity_width=1.0)
    else:
        masses = 70 + rng.exponential(45.0, n_events)
        cos_theta = np.clip(rng.normal(0, 0.6, n_events), -0.999, 0.999)
        cos_theta = np.sign(cos_theta) * (1 - (1 - np.abs(cos_theta)) ** 2)  # forward-peaked decays
        first, second = _decay(masses, cos_theta, rng, system_pt_scale=30.0, rapidity_width=1.3)
    swap = second["pt"] > first["pt"]
    columns = {}
    for key in ("pt", "eta", "phi", "mass"):
        columns[f"{OBJECTS[0]}_{key}"] = np.where(swap, second[key], first[key])
        columns[f"{OBJECTS[1]}_{key}"] = np.where(swap, first[key], second[key])
    tilt = np.exp(TILT * (masses - MASS)) if sample == "background" else np.ones(n_events)
    columns["weight_up"] = tilt / tilt.mean()
    columns["weight_down"] = (1 / tilt) / (1 / tilt).mean()
    return {k: v.astype(np.float32) for k, v in columns.items()}


def write_root(directory: Path, n_events: int, seed: int = 0) -> dict[str, Path]:
    """Write signal.root and background.root (TTree 'events') with uproot; return their paths."""
    import uproot

    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for sample in ("signal", "background"):
        path = directory / f"{sample}.root"
        columns = generate(sample, n_events, seed)
        with uproot.recreate(path, compression=uproot.ZLIB(1)) as file:
            tree = file.mktree("events", {name: column.dtype for name, column in columns.items()})
            for start in range(0, n_events, BASKET):  # baskets of BASKET entries, as ROOT writes them
                tree.extend({name: column[start:start + BASKET] for name, column in columns.items()})
        paths[sample] = path
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    for sample, path in write_root(args.outdir, args.events).items():
        print(f"{sample}: {path}")
