"""The frozen configuration that fully determines a trained model."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the model: the same config trains the same model."""

    model_name: str = "breast-cancer-classifier"
    random_state: int = 42
    test_size: float = 0.25
    # Inverse regularisation strength of the logistic regression.
    C: float = 1.0
    max_iter: int = 1000
    # How many held-out rows the card keeps as a golden set for smoke tests.
    golden_rows: int = 8

    def __post_init__(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size must be between 0 and 1, got {self.test_size}")
        if self.C <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {self.max_iter}")
        if self.golden_rows < 1:
            raise ValueError(f"golden_rows must be at least 1, got {self.golden_rows}")
        if not self.model_name or "/" in self.model_name:
            raise ValueError(f"model_name must be non-empty with no '/', got {self.model_name!r}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
