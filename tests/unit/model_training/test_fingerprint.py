"""A model's version is a fingerprint of the fitted estimator: equal models, equal
versions, also after a skops round trip; any other fitted state, another version."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

from model_training.fingerprint import model_version


def _round_trip(model):
    data = skops.io.dumps(model)
    return skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))


@pytest.mark.parametrize(
    ("make", "load"),
    [
        (lambda seed: RandomForestClassifier(5, random_state=seed), load_iris),
        (lambda seed: HistGradientBoostingRegressor(max_iter=10, random_state=seed), load_diabetes),
    ],
    ids=["forest (Tree nodes)", "hist-gradient-boosting (private _predictors)"],
)
def test_tree_models_keep_their_version_through_skops_and_change_with_their_trees(make, load):
    x, y = load(return_X_y=True)
    model = make(0).fit(x, y)
    version = model_version(model)
    assert model_version(_round_trip(model)) == version == model_version(_round_trip(model))
    assert model_version(make(0).fit(x[:-20], y[:-20])) != version
    other = make(0).fit(x, y)
    assert model_version(other) == version
    np.testing.assert_array_equal(other.predict(x[:5]), model.predict(x[:5]))
