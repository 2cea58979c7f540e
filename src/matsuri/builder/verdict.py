"""What a builder run found, in figures, a chart and one plain sentence (Japanese or English)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from matsuri.builder.models import LEARNED, TITLES
from matsuri.templates.bootstrap import Interval

SENTENCES = {
    "baseline": {
        "ja": "これはベースラインそのものです。ほかの選び方はすべて、これと比べます。",
        "en": "This is the baseline itself: every other choice is compared with it.",
    },
    "wins": {
        "ja": "{chosen}は{other}に勝ちました（{metric} {a} 対 {b}、差 {gain}{interval}）。{chosen}を提出しましょう。",
        "en": "{chosen} beats {other} ({metric} {a} against {b}, {gain}{interval}). Submit {chosen}.",
    },
    "unclear": {
        "ja": "{chosen}が{other}に勝っているかは、データが足りず判断できません（{metric} {a} 対 {b}、差 {gain}"
              "{interval}）。区間が 0 をまたいでいるので、この差は偶然かもしれません。データを増やすか期間を長くすれば"
              "分かります。それまでは{other}を提出しましょう。",
        "en": "Not enough data to tell whether {chosen} beats {other} ({metric} {a} against {b}, {gain}{interval}): "
              "the interval includes zero, so the difference could be chance; more data or a longer period would "
              "tell. Until then, submit {other}.",
    },
    "loses_to_rule": {
        "ja": "ここでは ML はルールに勝てません（{metric} {a} 対 {b}{interval}）。ルールを提出しましょう。",
        "en": "ML does not beat the rule here ({metric} {a} against {b}{interval}): submit the rule.",
    },
    "loses": {
        "ja": "ここでは{chosen}はベースラインに勝てません（{metric} {a} 対 {b}{interval}）。ベースラインを提出しましょう。",
        "en": "{chosen} does not beat the baseline here ({metric} {a} against {b}{interval}): submit the baseline.",
    },
    "interval": {
        "ja": "、{level:.0%} 信頼区間 {low:+.4f}〜{high:+.4f}",
        "en": "; {level:.0%} interval {low:+.4f} to {high:+.4f}",
    },
    "sizes": {
        "ja": "学習 {train:,} 行、検証 {valid:,} 行（うち結果が「はい」は {positives:,} 行）。",
        "en": "Trained on {train:,} rows, validated on {valid:,} rows ({positives:,} with outcome yes).",
    },
    "groups": {
        "ja": "検証の行は {group} ごとにまとめて取り分けています（{units:,} 件）。",
        "en": "Validation rows were kept aside by whole {group} ({units:,} of them).",
    },
}


@dataclass
class Result:
    chosen: str                    # the recipe's model
    metric: str                    # the theme's leaderboard metric
    higher_is_better: bool
    values: dict[str, float]       # method -> metric on the validation rows
    train_rows: int
    valid_rows: int
    positives: int                 # validation rows whose outcome is yes
    valid_units: int               # validation groups (pushes, users) or rows
    group: str = ""                # the column whose values were kept together
    interval: Interval | None = None  # bootstrap interval of the chosen model's gain over best_other()

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b

    def best_other(self) -> str:
        """The strongest of the baseline and the rule, other than the chosen model."""
        others = [m for m in self.values if m != self.chosen and m not in LEARNED]
        best = others[0]
        for name in others[1:]:
            if self.better(self.values[name], self.values[best]):
                best = name
        return best

    @property
    def unclear(self) -> bool:
        """The gain's interval includes zero: not enough data to tell which is better."""
        return self.chosen != "baseline" and self.interval is not None and self.interval.contains_zero()

    @property
    def wins(self) -> bool:
        return (self.chosen != "baseline" and not self.unclear
                and self.better(self.values[self.chosen], self.values[self.best_other()]))

    def sentence(self, lang: str = "en") -> str:
        if self.chosen == "baseline":
            return SENTENCES["baseline"][lang]
        other = self.best_other()
        a, b = self.values[self.chosen], self.values[other]
        fields = {"chosen": TITLES[self.chosen][lang], "other": TITLES[other][lang], "metric": self.metric,
                  "a": f"{a:.4f}", "b": f"{b:.4f}", "gain": f"{a - b:+.4f}", "interval": ""}
        if self.interval is not None and self.interval.known():
            i = self.interval  # of the gain; shown like the difference a − b beside it
            low, high = (i.low, i.high) if self.higher_is_better else (-i.high, -i.low)
            fields["interval"] = SENTENCES["interval"][lang].format(level=i.level, low=low, high=high)
        if self.wins:
            key = "wins"
        elif self.unclear:
            key = "unclear"
        elif other == "rule" and self.chosen in LEARNED:
            key = "loses_to_rule"
        else:
            key = "loses"
        text = SENTENCES[key][lang].format(**fields)
        return text[0].upper() + text[1:] if lang == "en" else text

    def sizes(self, lang: str = "en") -> str:
        text = SENTENCES["sizes"][lang].format(train=self.train_rows, valid=self.valid_rows, positives=self.positives)
        if self.valid_units != self.valid_rows:
            text += (" " if lang == "en" else "") + SENTENCES["groups"][lang].format(units=self.valid_units,
                                                                                            group=self.group)
        return text

    def figures(self) -> dict[str, str]:
        """The validation figures as shown (4 decimals): what a saved notebook must repeat."""
        return {name: f"{value:.4f}" for name, value in self.values.items()}

    def chart(self, lang: str = "en"):
        """Bars of the metric per method, the chosen one in colour."""
        import matplotlib.pyplot as plt

        from matsuri.templates.charts import BASELINE_COLOUR, MODEL_COLOUR, figure

        fig, (ax,) = figure(width=6.5, height=0.8 + 0.55 * len(self.values))
        names = list(self.values)
        colours = [MODEL_COLOUR if n == self.chosen else BASELINE_COLOUR for n in names]
        bars = ax.barh([TITLES[n][lang] for n in names], [self.values[n] for n in names], color=colours)
        ax.bar_label(bars, fmt="%.4f", padding=3)
        ax.invert_yaxis()
        ax.set_xlim(0, max(self.values.values()) * 1.2 or 1)
        title = {"ja": f"検証データでの {self.metric}", "en": f"{self.metric} on the validation rows"}[lang]
        better = {"ja": "（高いほど良い）" if self.higher_is_better else "（低いほど良い）",
                  "en": " (higher is better)" if self.higher_is_better else " (lower is better)"}[lang]
        ax.set_title(title + better)
        plt.close(fig)
        return fig

    def html(self, lang: str = "en") -> str:
        mark, colour = (("✅", "#1a7f37") if self.wins or self.chosen == "baseline"
                        else ("❔", "#8a6d00") if self.unclear else ("⚠️", "#b35900"))
        rows = "".join(f"<tr><td>{html.escape(TITLES[n][lang])}</td><td class='matsuri-figure' data-method='{n}'>"
                       f"{v}</td></tr>" for n, v in self.figures().items())
        return (f"<table class='matsuri-builder-figures'><tr><th></th><th>{html.escape(self.metric)}</th></tr>"
                f"{rows}</table><p>{html.escape(self.sizes(lang))}</p>"
                f"<p class='matsuri-verdict' style='color:{colour};font-weight:bold'>{mark} "
                f"{html.escape(self.sentence(lang))}</p>")

    def __str__(self) -> str:
        lines = [f"{TITLES[n]['en']}: {self.metric} {v}" for n, v in self.figures().items()]
        return "\n".join([*lines, self.sizes(), self.sentence()])
