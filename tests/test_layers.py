"""The layers of the package (docs/architecture.md) keep their rules: read from the source, every import of every
module of ``campaign`` is checked against what its layer may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "campaign"
INFRASTRUCTURE = ("ray", "hydra", "omegaconf", "pyarrow", "matplotlib")

# layer (module-name prefix) -> what it must not import (module-name prefixes)
RULES = {
    # pure per-mission physics: no infrastructure, nothing of the package above it
    "campaign.models": INFRASTRUCTURE
    + (
        "campaign.engine",
        "campaign.config",
        "campaign.spec",
        "campaign.store",
        "campaign.cluster",
        "campaign.app",
        "campaign.analysis",
        "campaign.report",
        "campaign.sampling",
        "campaign.distributions",
        "campaign.design",
    ),
    # leaves that light callers (the job submitter, the analysis) import: no JAX, no models
    "campaign.store": ("jax", "ray", "hydra", "campaign.models", "campaign.engine", "campaign.config"),
    "campaign.columns": ("jax", "pyarrow", "ray", "campaign.models", "campaign.engine"),
    "campaign.provenance": ("jax", "pyarrow", "ray", "campaign.models", "campaign.engine"),
    "campaign.keys": INFRASTRUCTURE + ("campaign.models", "campaign.engine"),
    # the configuration is data: it validates against the declarations, it does not run anything
    "campaign.config": (
        "ray",
        "pyarrow",
        "campaign.engine",
        "campaign.cluster",
        "campaign.store",
        "campaign.app",
        "campaign.analysis",
        "campaign.report",
    ),
    "campaign.spec": INFRASTRUCTURE + ("campaign.engine", "campaign.config", "campaign.cluster"),
    # the batching point computes; distribution and storage are the cluster's and the app's
    "campaign.engine": INFRASTRUCTURE + ("campaign.config", "campaign.cluster", "campaign.app", "campaign.store"),
    # the analysis reads datasets by their declared roles, never the models
    "campaign.analysis": (
        "jax",
        "ray",
        "hydra",
        "campaign.models",
        "campaign.engine",
        "campaign.config",
        "campaign.cluster",
        "campaign.app",
    ),
}


def imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    package = [p for p in package if p != "__init__"]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                found.update([module] + [f"{module}.{alias.name}" for alias in node.names])
            else:
                found.add(node.module or "")
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(PACKAGE.rglob("*.py"))


def forbidden(name: str, imported: str, banned: tuple[str, ...]) -> bool:
    return any(imported == b or imported.startswith(b + ".") for b in banned)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_every_module_of_the_layer_keeps_its_rule(layer):
    members = [p for p in MODULES if module_name(p) == layer or module_name(p).startswith(layer + ".")]
    assert members, f"no module in layer {layer}"
    broken = [
        f"{module_name(p)} imports {name}"
        for p in members
        for name in sorted(imports(p))
        if forbidden(module_name(p), name, RULES[layer])
    ]
    assert not broken, "\n".join(broken)


def test_the_rule_checker_sees_a_broken_rule():
    """A module of the models that imported pyarrow or the engine would be caught (the checker can fail)."""
    assert forbidden("campaign.models.x", "pyarrow.parquet", RULES["campaign.models"])
    assert forbidden("campaign.models.x", "campaign.engine", RULES["campaign.models"])
    assert not forbidden("campaign.models.x", "campaign.models.rules", RULES["campaign.models"])
    assert "campaign.keys" in imports(PACKAGE / "sampling.py")
