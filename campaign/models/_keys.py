"""Re-export of :mod:`campaign.keys` (where the stable random-stream tags now live) for the models' imports."""

from ..keys import indexed, open_uniform, stable_id, subkey

__all__ = ["indexed", "open_uniform", "stable_id", "subkey"]
