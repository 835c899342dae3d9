"""Stable tags for counter-based random streams.

Every random purpose (a sampled variable, an event inside a model) gets its own 32-bit tag derived from its
name, so the stream of one purpose never depends on which other purposes exist or in what order they run.
"""

from __future__ import annotations

import hashlib

import jax


def stable_id(name: str) -> int:
    """A 32-bit identifier of ``name`` that is the same on every machine and Python version."""
    return int.from_bytes(hashlib.blake2s(name.encode("utf-8"), digest_size=4).digest(), "little")


def subkey(key: jax.Array, purpose: str) -> jax.Array:
    """The key of one named purpose under ``key`` (``fold_in`` with the purpose's stable tag)."""
    return jax.random.fold_in(key, stable_id(purpose))


def indexed(key: jax.Array, purpose: str, index: jax.Array, draw):
    """``draw(k)`` for each element ``i`` of ``index`` (1-D), ``k`` the key of ``purpose`` folded with ``i``: one
    independent draw per site, attempt, ... that does not depend on how many there are."""
    parent = subkey(key, purpose)
    return jax.vmap(lambda i: draw(jax.random.fold_in(parent, i)))(index)


def open_uniform(key: jax.Array, dtype) -> jax.Array:
    """One uniform draw strictly inside (0, 1), safe for ``log`` and inverse CDFs at either end."""
    eps = jax.numpy.finfo(dtype).eps
    return jax.numpy.clip(jax.random.uniform(key, (), dtype), eps / 2, 1 - eps / 2)
