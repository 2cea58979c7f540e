"""A builder's choices: everything needed to repeat a run, and nothing else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from matsuri import theme_spec
from matsuri.errors import UsageError

MODEL_NAMES = ("baseline", "rule", "logistic", "boosting")


@dataclass
class Recipe:
    theme: str
    sql: str
    features: dict[str, str] = field(default_factory=dict)  # column -> number|category|text|time
    model: str = "logistic"        # a key of matsuri.builder.models.MODELS
    rule: str = ""                 # a SQL expression over the query's columns (CASE WHEN …)
    validation_share: float = 0.2
    seed: int = 42

    @classmethod
    def start(cls, theme: str) -> Recipe:
        """The theme's starting point: its query and the features it ticks first (typed later)."""
        builder = theme_spec.get(theme).builder
        if builder is None:
            raise UsageError(f"The theme '{theme}' has no [builder] section in its theme.toml, so the "
                             "model builder cannot start from it.")
        return cls(theme, builder.sql, {name: "" for name in builder.features})

    def parameters(self) -> dict:
        """The notebook's parameters (papermill), in this order."""
        return asdict(self)

    def check(self) -> None:
        if self.model not in MODEL_NAMES:
            raise UsageError(f"Unknown model '{self.model}': choose one of {', '.join(MODEL_NAMES)}.")
        if self.model == "rule" and not self.rule.strip():
            raise UsageError("The rule is empty. Write it in SQL, for example "
                             "CASE WHEN send_hour BETWEEN 18 AND 21 THEN 1 ELSE 0 END.",
                             ja="ルールが空です。SQL で書いてください（例: CASE WHEN send_hour BETWEEN 18 "
                                "AND 21 THEN 1 ELSE 0 END）。")
        if not 0 < self.validation_share < 1:
            raise UsageError(f"validation_share must be between 0 and 1 (it is {self.validation_share}).")
