"""The default recipe's model name, apart from scikit-learn: code that never trains
(liveline.modelstore, for the model it watches when the project names none) imports it
without the cost of importing scikit-learn."""

from __future__ import annotations

DEFAULT_MODEL_NAME = "breast-cancer-classifier"
