"""Provenance of a run: the code revision, the library versions and the command line.

Standard library only, so that light callers (``jobs/submit.py``, which must not import JAX or the models) share
the one definition with the run store.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REVISION_ENV = "LUPEX_CODE_REVISION"


def code_revision(path: str | os.PathLike = PACKAGE_DIR) -> str:
    """Git revision of the checkout holding ``path`` (the package source by default), ``+dirty`` when tracked files
    are modified; outside a checkout, ``$LUPEX_CODE_REVISION`` or ``unknown``."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        # A Ray job runs a copy of the source without .git: jobs/submit.py passes the submitter's revision.
        return os.environ.get(REVISION_ENV, "unknown")


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that decide a run's numbers (``not installed`` when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("lupex-campaign", "jax", "jaxlib", "ray", "numpy", "pyarrow", "hydra-core"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def command_line() -> list[str]:
    """The command that started this process: the interpreter's name and its arguments."""
    return [os.path.basename(sys.executable), *sys.argv]
