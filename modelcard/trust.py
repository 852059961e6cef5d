"""Which types a skops artifact may contain: skops' defaults plus scikit-learn's own.

skops refuses by default the fitted-state classes of tree models
(sklearn.tree._tree.Tree, the histogram gradient boosting TreePredictor, ...). They are
scikit-learn's own code, rebuilt by skops from their state without pickle, so Liveline
trusts every type under sklearn. Anything else (a user's class, builtins.eval, a numpy
function passed to FunctionTransformer) is refused by name, at publish and at start.
"""

from __future__ import annotations

from collections.abc import Iterable

TRUSTED_PREFIXES = ("sklearn.",)


def refused_types(untrusted: Iterable[str]) -> list[str]:
    """The types skops would not load by default that Liveline does not trust either."""
    return sorted(t for t in untrusted if not t.startswith(TRUSTED_PREFIXES))
