"""A hackathon theme is one folder, `templates/<id>/`, described by its `theme.toml`.

The spec says everything the kit needs about a theme: its title and description (Japanese and
English), the holdout (the learners' table listing the ids to predict, and the SQL on the
organiser's labels store that gives the truth), each prediction file with its columns and rules,
and the metrics (from the registry in `matsuri.metrics`), one of which ranks the leaderboard.
Its `[[kpi]]` entries are the business numbers the model should move, as weekly warehouse queries
(`week`, `value`), which a hand-off turns into a KPI sheet for the people who run the component.
Validation, scoring, the runner's output files, the leaderboard, the gallery, the report, `hackathon
new` and the CLI all read themes from here; no theme id or file rule is written anywhere else.

    templates/<id>/theme.toml      the spec (checked key by key, like event.toml)
    templates/<id>/README.md       what teams read first
    templates/<id>/starter.ipynb   baseline first, then a model, then the submission files
    templates/<id>/demo.ipynb      the Voila app judges open
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from matsuri import paths, strict_toml
from matsuri.errors import NotFound, UsageError
from matsuri.strict_toml import Section, at_least, not_blank
from matsuri.templates.contract import TYPES, ColumnContract, TableContract

TEMPLATES_ENV = "MATSURI_TEMPLATES"
SPEC_FILE = "theme.toml"
TEMPLATE_FILES = ("README.md", "starter.ipynb", "demo.ipynb")
THEME_ID = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# what each kind of prediction file holds; `{id}` is the holdout's id column, `{item}` the item's
KINDS = {
    "probability": ("{id}", "probability"),     # one probability in [0, 1] per id
    "value": ("{id}", "value"),                 # one number per id (a regression theme)
    "ranking": ("{id}", "{item}", "rank"),      # ranks 1..k per id, no item twice
    "keywords": ("rank", "keyword"),            # at most k words, strongest first
}
LANGUAGES = ("ja", "en")
# how a KPI's value is shown, by its unit
KPI_UNITS = {"rate": "{:.1%}", "count": "{:,.0f}", "yen": "¥{:,.0f}", "days": "{:.1f}"}


@dataclass(frozen=True)
class PredictionFile:
    name: str                      # e.g. "predictions.csv"
    kind: str                      # a key of KINDS
    required: bool
    columns: tuple[str, ...]       # the header, in order
    k: int = 0                     # ranking: ranks 1..k; keywords: at most k words
    item: str = ""                 # ranking: the item column
    items_sql: str = ""            # ranking: warehouse SQL listing every valid item id
    planted_sql: str = ""          # keywords: labels-store SQL listing the words to find


@dataclass(frozen=True)
class MetricSpec:
    name: str                      # as shown, e.g. "ndcg@10"
    base: str                      # its registry entry, e.g. "ndcg@k"
    file: str                      # the prediction file it reads
    higher_is_better: bool
    format: str                    # how a value is shown, e.g. "{:.4f}"

    def show(self, value: float | None) -> str:
        return "" if value is None else self.format.format(value)


@dataclass(frozen=True)
class KpiSpec:
    name: str                      # e.g. "weekly_open_rate"
    title: dict[str, str]          # ja and en
    unit: str                      # a key of KPI_UNITS
    sql: str                       # warehouse SQL returning (week DATE, value) rows

    def show(self, value: float | None) -> str:
        return "" if value is None else KPI_UNITS[self.unit].format(value)


SPLITS = ("time", "random")  # how the model builder keeps labelled rows aside for validation


@dataclass(frozen=True)
class BuilderSpec:
    """What the no-code model builder (matsuri.builder) starts from: one query whose columns become
    candidate features. Labelled rows have the label; rows to predict have NULL there."""

    sql: str                       # warehouse SQL, prefilled and editable
    label: str                     # true/false column, NULL on the rows to predict
    baseline: str                  # a column of the query: the naive baseline's score
    features: tuple[str, ...]      # ticked when the builder opens
    split: str = "time"            # a key of SPLITS
    time: str = ""                 # split = "time": the most recent rows go to validation
    group: str = ""                # rows of one group (a push, a user) stay on one side


@dataclass(frozen=True)
class ThemeSpec:
    id: str
    folder: Path
    title: dict[str, str]
    description: dict[str, str]
    holdout_table: str             # learners' warehouse: one row per id to predict
    id_column: str
    labels_sql: str                # organiser store: (id, truth) rows
    files: tuple[PredictionFile, ...]
    metrics: tuple[MetricSpec, ...]
    leaderboard: str               # the metric that ranks the leaderboard by default
    library: str = ""              # the Python module its notebooks import, if the kit has one
    kpis: tuple[KpiSpec, ...] = ()  # the weekly business numbers a hand-off reports
    builder: BuilderSpec | None = None  # the model builder's starting point, if it offers one
    data: dict[str, TableContract] = field(default_factory=dict)  # the data contract, by our table


def templates_dir() -> Path:
    env = os.environ.get(TEMPLATES_ENV)
    return Path(env) if env else paths.project_root() / "templates"


def load(folder: Path) -> ThemeSpec:
    """Read and check one theme folder's spec; every problem names its key."""
    from matsuri import metrics as registry

    path = Path(folder) / SPEC_FILE
    data = strict_toml.read(path, "theme spec", "Every theme folder needs one: copy the "
                            "theme.toml of another folder of templates/ and edit it.")
    root = Section(data, "", path, "theme spec", "the other themes' theme.toml")
    theme_id = root.take("id", str, check=lambda v: None if THEME_ID.match(v) else
                         "must be lower-case letters, digits and '-' (3 to 40), like churn-30d")
    if theme_id != Path(folder).name:
        root.fail("id", f"('{theme_id}') must be the folder's name ('{Path(folder).name}')")
    title = _languages(root.sub("title"))
    description = _languages(root.sub("description"))
    library = root.take("library", str, "", lambda v: None if re.fullmatch(r"[a-z_][\w.]*", v)
                        else "must be a Python module name like matsuri.templates.push")
    holdout = root.sub("holdout")
    table = holdout.take("table", str, check=_identifier)
    id_column = holdout.take("id", str, check=_identifier)
    labels_sql = holdout.take("labels", str, check=not_blank,
                              hint="SQL on the labels store giving (id, truth) rows")
    holdout.done()
    files = tuple(_file(Section(raw, f"files[{i}]", path, "theme spec"), id_column)
                  for i, raw in enumerate(root.take("files", list, check=_some("prediction file"))))
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        root.fail("files", f"names a file twice ({', '.join(names)})")
    if not any(f.required for f in files):
        root.fail("files", "must have at least one required file")
    metrics, leaderboard = [], []
    for i, raw in enumerate(root.take("metrics", list, check=_some("metric"))):
        section = Section(raw, f"metrics[{i}]", path, "theme spec")
        metric = _metric(section, files, registry)
        if section.take("leaderboard", bool, False):
            leaderboard.append(metric.name)
        section.done()
        metrics.append(metric)
    if len(leaderboard) != 1:
        root.fail("metrics", "must mark exactly one metric with leaderboard = true (it ranks the "
                  "leaderboard unless event.toml chooses another)")
    kpis = tuple(_kpi(Section(raw, f"kpi[{i}]", path, "theme spec"))
                 for i, raw in enumerate(root.take("kpi", list, [])))
    kpi_names = [k.name for k in kpis]
    if len(set(kpi_names)) != len(kpi_names):
        root.fail("kpi", f"names a KPI twice ({', '.join(kpi_names)})")
    builder = _builder(root.sub("builder")) if "builder" in data else None
    tables = root.sub("data")
    contract = {name: _table(tables.sub(name), name, holdout=name == table) for name in list(tables.data)}
    tables.done()
    if contract and table not in contract:
        root.fail("data", f"must describe the holdout table '{table}' too")
    root.done()
    return ThemeSpec(theme_id, Path(folder), title, description, table, id_column, labels_sql,
                     files, tuple(metrics), leaderboard[0], library, kpis, builder, contract)


def _languages(section: Section) -> dict[str, str]:
    texts = {lang: section.take(lang, str, check=not_blank) for lang in LANGUAGES}
    section.done()
    return texts


def _identifier(value: str) -> str | None:
    return None if IDENTIFIER.match(value) else f"must be a table or column name like user_id, not {value!r}"


def _some(what: str):
    return lambda v: None if v else f"must list at least one {what}"


def _file(section: Section, id_column: str) -> PredictionFile:
    name = section.take("name", str, check=lambda v: None if re.fullmatch(r"[a-z0-9_-]+\.csv", v)
                        else "must be a file name like predictions.csv")
    kind = section.take("kind", str, check=lambda v: None if v in KINDS else
                        f"must be one of {', '.join(KINDS)}{strict_toml.suggestion(v, KINDS)}")
    required = section.take("required", bool, True)
    k = section.take("k", int, 0, at_least(1)) if kind in ("ranking", "keywords") else 0
    if kind in ("ranking", "keywords") and not k:
        section.fail(section.key("k"), "is missing (ranks 1..k for a ranking, at most k keywords)")
    item = section.take("item", str, check=_identifier) if kind == "ranking" else ""
    items_sql = section.take("items", str, check=not_blank,
                             hint="warehouse SQL listing every item id") if kind == "ranking" else ""
    planted = section.take("planted", str, "") if kind == "keywords" else ""
    section.done()
    columns = tuple(c.format(id=id_column, item=item) for c in KINDS[kind])
    return PredictionFile(name, kind, required, columns, k, item, items_sql, planted)


def _metric(section: Section, files: tuple[PredictionFile, ...], registry) -> MetricSpec:
    name = section.take("name", str, check=not_blank)
    base = re.sub(r"@\d+$", "@k", name)
    entry = registry.METRICS.get(base)
    if entry is None:
        section.fail(section.key("name"), f"('{name}') is not a metric matsuri knows"
                     f"{strict_toml.suggestion(name, registry.METRICS)}; known: "
                     f"{', '.join(registry.METRICS)}")
    file = next((f for f in files if f.kind == entry.reads), None)
    if file is None:
        section.fail(section.key("name"), f"('{name}') reads a {entry.reads} file, which this "
                     "theme does not have")
    if base.endswith("@k") and int(name.rsplit("@", 1)[1]) != file.k:
        section.fail(section.key("name"), f"('{name}') must use the ranking's k ({file.k})")
    direction = section.take("direction", str, "higher" if entry.higher_is_better else "lower",
                             lambda v: None if v in ("higher", "lower") else
                             "must be \"higher\" or \"lower\" (which values are better)")
    if (direction == "higher") != entry.higher_is_better:
        section.fail(section.key("direction"), f"is wrong for {name}: "
                     f"{'higher' if entry.higher_is_better else 'lower'} values are better")
    shown = section.take("format", str, entry.format, _format_check)
    return MetricSpec(name, base, file.name, entry.higher_is_better, shown)


def _kpi(section: Section) -> KpiSpec:
    name = section.take("name", str, check=_identifier)
    title = _languages(section.sub("title"))
    unit = section.take("unit", str, check=lambda v: None if v in KPI_UNITS else
                        f"must be one of {', '.join(KPI_UNITS)}{strict_toml.suggestion(v, KPI_UNITS)}")
    sql = section.take("sql", str, check=not_blank,
                       hint="warehouse SQL returning one row per week: columns week and value")
    section.done()
    return KpiSpec(name, title, unit, sql)


def _builder(section: Section) -> BuilderSpec:
    sql = section.take("sql", str, check=not_blank, hint="warehouse SQL, one row per example")
    label = section.take("label", str, check=_identifier)
    baseline = section.take("baseline", str, check=_identifier)
    features = section.take("features", list, check=_some("feature column"))
    if not all(isinstance(f, str) and IDENTIFIER.match(f) for f in features):
        section.fail(section.key("features"), "must list column names like send_hour")
    split = section.take("split", str, "time", lambda v: None if v in SPLITS else
                         f"must be one of {', '.join(SPLITS)}")
    time = section.take("time", str, "", _identifier)
    if split == "time" and not time:
        section.fail(section.key("time"), "is missing: a time split needs the column that orders rows")
    group = section.take("group", str, "", _identifier)
    section.done()
    return BuilderSpec(sql, label, baseline, tuple(features), split, time, group)


def _table(section: Section, name: str, holdout: bool) -> TableContract:
    """One table of the data contract: its meaning, key and columns (`[data.<table>]`)."""
    if problem := _identifier(name):
        section.fail(section.where, problem)
    meaning = {lang: section.take(lang, str, check=not_blank) for lang in LANGUAGES}
    key = section.take("key", list, [])
    history_days = section.take("history_days", int, 0, at_least(1))
    history_parameter = section.take("history_parameter", str, "", _identifier)
    columns_section = section.sub("columns")
    columns = []
    for column in list(columns_section.data):
        entry = columns_section.sub(column)
        kind = entry.take("type", str, check=lambda v: None if v in TYPES else
                          f"must be one of {', '.join(TYPES)}{strict_toml.suggestion(v, TYPES)}")
        texts = {lang: entry.take(lang, str, check=not_blank) for lang in LANGUAGES}
        nullable = entry.take("null", bool, False)
        entry.done()
        columns.append(ColumnContract(column, kind, texts, nullable))
    columns_section.done()
    if not columns:
        section.fail(section.key("columns"), "must list at least one column")
    names = [c.name for c in columns]
    if not all(isinstance(k, str) and k in names for k in key):
        section.fail(section.key("key"), f"must list columns of the table ({', '.join(names)})")
    if history_days and not any(c.type == "timestamp" and not c.nullable for c in columns):
        section.fail(section.key("history_days"), "needs a timestamp column that may not be empty")
    section.done()
    return TableContract(name, meaning, tuple(columns), tuple(key), holdout, history_days, history_parameter)


def _format_check(value: str) -> str | None:
    try:
        value.format(1.5)
    except (ValueError, IndexError, KeyError):
        return "must be a Python format like \"{:.4f}\" or \"{:.0f}\""
    return None


@cache
def _all(folder: str) -> dict[str, ThemeSpec]:
    root = Path(folder)
    if not root.is_dir():
        return {}
    return {p.parent.name: load(p.parent) for p in sorted(root.glob(f"*/{SPEC_FILE}"))}


def all_themes() -> dict[str, ThemeSpec]:
    """Every theme of this kit, by id, in name order (read once per process)."""
    return _all(str(templates_dir()))


def get(theme_id: str) -> ThemeSpec:
    themes = all_themes()
    if theme_id not in themes:
        raise UsageError(f"Unknown theme '{theme_id}'{strict_toml.suggestion(theme_id, themes)}. "
                         f"Themes: {', '.join(themes) or '(none)'}.")
    return themes[theme_id]


def for_library(module: str) -> ThemeSpec:
    """The theme whose spec names this module as its notebooks' library (so the module need not
    write its theme's id)."""
    found = [spec for spec in all_themes().values() if spec.library == module]
    if len(found) != 1:
        raise NotFound(f"{len(found)} theme specs under {templates_dir()} name {module} as their "
                       "library; exactly one should (its `library` key).")
    return found[0]


def template_dir(theme_id: str) -> Path:
    """The folder holding a theme's spec, README, starter and demo notebooks."""
    folder = get(theme_id).folder
    missing = [name for name in TEMPLATE_FILES if not (folder / name).is_file()]
    if missing:
        raise NotFound(f"The template folder {folder} lacks {', '.join(missing)}: restore it "
                       "from the repository.")
    return folder


def shown(theme_id: str, metric: str, value: float | None) -> str:
    """A metric's value as its theme's spec formats it ("11" keyword hits, "0.8123" ROC AUC)."""
    spec = all_themes().get(theme_id)
    known = {m.name: m for m in spec.metrics} if spec else {}
    if value is None:
        return ""
    return known[metric].show(value) if metric in known else f"{value:.4f}"


def output_files() -> tuple[str, ...]:
    """Every prediction file name any theme reads: what the runner takes out of a run."""
    return tuple(sorted({f.name for spec in all_themes().values() for f in spec.files}))
