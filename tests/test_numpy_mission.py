"""The NumPy mission that the benchmark's peers run is the same physics as the JAX model: same inputs, same
outputs (float64, to 1e-9 relative; outcomes and counts exactly). The experiment runs in float32 by default; the
comparison is made in float64, the precision of the NumPy code."""

from __future__ import annotations

import numpy as np
import pytest

from campaign import engine
from tests.helpers import compose
from tests.oracles import flat_design
from tests.oracles import night_survival as numpy_mission


@pytest.mark.parametrize("site, n", [("connecting_ridge", 512), ("shackleton_rim", 256)])
def test_numpy_mission_agrees_with_the_jax_model(site, n):
    config = compose(
        "+experiment=night_survival", f"site={site}", "run.batch_size=256", "run.seed=4", "run.precision=float64"
    )
    spec = config.spec(512)
    jax_columns = engine.evaluate_shard(spec, 0, n)
    inputs = {v.name: jax_columns[v.name] for v in spec.variables}
    ours = numpy_mission.simulate(flat_design(spec), inputs)
    assert set(ours) == {o.name for o in config.model.outputs} | {"outcome"}
    assert len(np.unique(ours["outcome"])) >= 2, "the sample must hold more than one outcome"
    for name, values in ours.items():
        expected = jax_columns[name]
        if np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(values, expected, err_msg=name)


def test_one_mission_at_a_time_gives_the_same_answer_as_the_batch():
    """monaco calls the function with one mission per case."""
    config = compose("+experiment=night_survival", "run.batch_size=256", "run.precision=float64")
    spec = config.spec(256)
    columns = engine.evaluate_shard(spec, 0, 3)
    params = flat_design(spec)
    batch = numpy_mission.simulate(params, {v.name: columns[v.name] for v in spec.variables})
    for i in range(3):
        one = numpy_mission.simulate(params, {v.name: columns[v.name][i] for v in spec.variables})
        for name, values in one.items():
            assert values.shape == (1,) and values[0] == batch[name][i], name
