"""Reproducible training of the Liveline classifier: pure functions, I/O at the edges."""

from model_training.config import TrainingConfig
from model_training.refused import Refused
from model_training.train import TrainedModel, train

__all__ = ["Refused", "TrainedModel", "TrainingConfig", "train"]
