"""`matsuri data check`: a company's file checked against a theme's contract before the event.

The check opens the data exactly as the starter will (tables.check_data), from the same
parameters papermill is given (`-f params.yaml`), so what passes here runs there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from matsuri.errors import NotFound, UsageError
from matsuri.templates.contract import Findings

PARAMETERS = ("table_names", "column_names", "files", "time_zone")
DATA_FILES = (".parquet", ".csv", ".tsv")


@dataclass
class Report:
    findings: Findings
    notes: list[str] = field(default_factory=list)


def check(source: Path, theme: str, params: Path | None = None) -> Report:
    from matsuri import theme_spec
    from matsuri.templates.tables import check_data

    spec = theme_spec.get(theme)
    given = _parameters(params)
    table_names, files = dict(given.get("table_names") or {}), dict(given.get("files") or {})
    source = Path(source)
    if not source.exists():
        raise NotFound(f"{source} does not exist: give a DuckDB file, a Parquet or CSV file, or a folder of them.")
    needs, notes, warehouse = dict(spec.data), [], None
    if source.is_file() and source.suffix.lower() not in DATA_FILES:
        warehouse = str(source)
    else:  # files only: each holds the table its name says (ours, or the name table_names gives)
        found = {p.stem: p for p in ([source] if source.is_file() else sorted(source.iterdir()))
                 if p.suffix.lower() in DATA_FILES}
        for ours in spec.data:
            theirs = table_names.get(ours, ours)
            if ours not in files and theirs in found:
                files[ours] = str(found[theirs])
        if not files:
            raise UsageError(f"None of the files in {source} is named after a table the {theme} template "
                             f"reads ({', '.join(spec.data)}). Name each file after its table (e.g. "
                             f"{next(iter(spec.data))}.parquet) or map the names with table_names.")
        unchecked = [t for t in spec.data if t not in files]
        needs = {t: c for t, c in needs.items() if t in files}
        table_names = {t: n for t, n in table_names.items() if t in files}
        if unchecked:
            notes.append(f"Checked {', '.join(needs)}; not given, so not checked: {', '.join(unchecked)}.")
    column_names = {k: v for k, v in dict(given.get("column_names") or {}).items()
                    if str(k).partition(".")[0] in needs}
    findings = check_data(warehouse, needs, table_names, column_names, files, given.get("time_zone") or None)
    return Report(findings, notes)


def _parameters(path: Path | None) -> dict:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"Could not read the parameters file {path}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold parameters as `name: value` lines (YAML), as papermill -f reads.")
    return {k: v for k, v in data.items() if k in PARAMETERS}
