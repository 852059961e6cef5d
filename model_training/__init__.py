"""Training a team's own scikit-learn model and describing it for publishing.

A recipe (model_training.recipe) fits the team's entry point on its data; describe
checks the fitted estimator on the held-out rows and writes its card (modelcard); the
built-in breast-cancer model is the default recipe (model_training.builtin). Pure
functions: the data arrives loaded (liveline.training) and nothing is written here."""

from __future__ import annotations

from model_training.refused import Refused

__all__ = ["Refused"]
