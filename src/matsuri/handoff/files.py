"""Write a component folder (layout in the package doc) from what bundle.py found."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import nbformat

from matsuri import theme_spec
from matsuri.handoff import component, environment

PORT = 8000
TIMER = "Mon *-*-* 06:00:00"  # weekly, Monday morning: the KPI sheet is weekly too
UNIT = "matsuri-batch"


def write(out: Path, spec: dict, source: Path, kept: Path, theme, warehouse: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / "notebook.ipynb")
    for name in (component.MODEL_FILE, component.BASELINE_FILE):
        if (kept / name).is_file():
            shutil.copyfile(kept / name, out / name)
    (out / component.DESCRIPTION).write_text(json.dumps(spec, ensure_ascii=False, indent=1), encoding="utf-8")
    vendor(out / "vendor", theme)
    nbformat.write(batch_notebook(spec), out / "batch.ipynb")
    (out / "requirements.txt").write_text(requirements(), encoding="utf-8")
    (out / "Dockerfile").write_text(dockerfile(), encoding="utf-8")
    (out / f"{UNIT}.service").write_text(service_unit(spec), encoding="utf-8")
    (out / f"{UNIT}.timer").write_text(timer_unit(spec), encoding="utf-8")
    (out / "cron.txt").write_text(cron_line(), encoding="utf-8")
    documents(out, spec, theme, warehouse)
    (out / "README.md").write_text(readme(spec), encoding="utf-8")


def vendor(folder: Path, theme) -> None:
    """The kit's package (the model's steps and the service import it) and the theme's spec."""
    shutil.copytree(Path(component.__file__).parents[1], folder / "matsuri",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target = folder / "templates" / theme.id
    target.mkdir(parents=True)
    shutil.copyfile(theme.folder / theme_spec.SPEC_FILE, target / theme_spec.SPEC_FILE)


def requirements() -> str:
    head = ("# Pinned from the environment that trained the model (Python "
            f"{platform.python_version()}): a skops model loads reliably only with the same versions.\n")
    return head + "\n".join(environment.pinned()) + "\n"


def dockerfile() -> str:
    major, minor, _ = platform.python_version_tuple()
    return f"""\
# The component: its scoring service (default command) and its batch job, with the Python and
# the package versions that trained the model.
#   docker build -t matsuri-component .
#   docker run -p {PORT}:{PORT} -v /path/to/company.duckdb:/data/company.duckdb:ro matsuri-component
#   docker run -v …:/data/company.duckdb:ro -v "$PWD/out":/out matsuri-component \\
#       papermill batch.ipynb /out/batch-run.ipynb -p output /out/scores.duckdb
FROM python:{major}.{minor}-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PYTHONPATH=/app/vendor MATSURI_TEMPLATES=/app/vendor/templates MATSURI_COMPONENT=/app \\
    MATSURI_WAREHOUSE=/data/company.duckdb
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-deps -r requirements.txt && pip check
COPY vendor vendor
COPY component.json model.skops batch.ipynb ./
RUN useradd --system --uid 10001 component
USER component
EXPOSE {PORT}
CMD ["uvicorn", "--factory", "matsuri.handoff.service:from_environment", "--host", "0.0.0.0", "--port", "{PORT}"]
"""


def batch_notebook(spec: dict):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    title = spec["title"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {title['ja']} — バッチ採点 / batch scoring\n\n"
            f"チーム {spec['team_name']} のモデル（提出 {spec['submission']}）で、期間内の行を採点して表に書きます。\n\n"
            f"Scores the rows of a period with team {spec['team_name']}'s model (submission "
            f"{spec['submission']}) and writes them to a table. Run it with papermill, e.g.\n\n"
            "```\npapermill batch.ipynb run.ipynb -p start 2026-03-01 -p end 2026-03-08 "
            "-p output scores.duckdb -p output_table predictions\n```"),
        nbformat.v4.new_code_cell(
            "# Parameters (papermill -p NAME VALUE)\n"
            "start = \"\"                 # first day scored; empty: `days` before end\n"
            "end = \"\"                   # the day after the last one scored; empty: today\n"
            "days = 7\n"
            "output = \"scores.duckdb\"   # a DuckDB file of its own: the warehouse is only read\n"
            "output_table = \"predictions\"\n"
            "warehouse = \"\"             # empty: $MATSURI_WAREHOUSE\n"
            "component = \".\"            # the folder holding component.json",
            metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from matsuri.handoff import batch\n\n"
            "result = batch.run(component, start, end, days, output, output_table, warehouse)\n"
            "print(f\"{result.rows:,} rows scored ({result.start} … {result.end}) → "
            "{result.output} table {result.table}\")"),
    ]
    return nb


def service_unit(spec: dict) -> str:
    return f"""\
# The weekly batch of {spec['theme']} (team {spec['team']}, submission {spec['submission']}).
# Install: copy this folder to /opt/{UNIT}, this file and {UNIT}.timer to /etc/systemd/system/, then
#   systemctl daemon-reload && systemctl enable --now {UNIT}.timer
[Unit]
Description=matsuri component batch: {spec['theme']} (team {spec['team']})
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory=/opt/{UNIT}
Environment=PATH=/opt/{UNIT}/venv/bin:/usr/bin:/bin
Environment=PYTHONPATH=/opt/{UNIT}/vendor
Environment=MATSURI_TEMPLATES=/opt/{UNIT}/vendor/templates
Environment=MATSURI_WAREHOUSE=/data/company.duckdb
ExecStart=/usr/bin/env papermill /opt/{UNIT}/batch.ipynb /var/lib/{UNIT}/last-run.ipynb -p output /var/lib/{UNIT}/scores.duckdb
StateDirectory={UNIT}
DynamicUser=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
"""


def timer_unit(spec: dict) -> str:
    return f"""\
[Unit]
Description=Weekly batch of {spec['theme']} (team {spec['team']})

[Timer]
OnCalendar={TIMER}
Persistent=true

[Install]
WantedBy=timers.target
"""


def cron_line() -> str:
    return (f"# The same schedule as {UNIT}.timer, for machines without systemd (crontab -e):\n"
            f"0 6 * * 1 cd /opt/{UNIT} && PYTHONPATH=vendor MATSURI_TEMPLATES=vendor/templates "
            f"MATSURI_WAREHOUSE=/data/company.duckdb venv/bin/papermill batch.ipynb last-run.ipynb "
            f"-p output scores.duckdb >> batch.log 2>&1\n")


def documents(out: Path, spec: dict, theme, warehouse: Path) -> None:
    """The model card, the KPI sheet and the A/B plan."""
    import importlib

    from matsuri.handoff import ab, card, kpi
    from matsuri.templates.tables import open_warehouse

    library = importlib.import_module(spec["library"])
    sheet = None
    if theme.kpis:
        with open_warehouse(str(warehouse), library.NEEDS) as con:
            sheet = kpi.sheet(con, theme, out / "kpi")
    card.write(spec, out, sheet)
    rate = spec.get("label_rate")
    if rate is None and sheet is not None:  # a ranking: the theme's first KPI that is a rate
        rate = next((x.value for x in sheet.latest.values() if x.kpi.unit == "rate"), None)
    effect = max(0.005, round((rate or 0) * 0.1, 3))  # a tenth better: worth noticing, and testable
    if rate and 0 < rate < 1 - effect:
        plan = ab.plan(rate, effect)
        (out / "ab-plan.md").write_text(plan.markdown("ja") + "\n\n" + plan.markdown("en") + "\n",
                                        encoding="utf-8")


def readme(spec: dict) -> str:
    inputs = ", ".join(f"`{i['name']}` ({i['type']})" for i in spec["inputs"])
    example = json.dumps({"rows": spec.get("examples", [])[:1]}, ensure_ascii=False)
    return f"""\
# {spec['title']['ja']} / {spec['title']['en']} — team {spec['team_name']}

A component made by `matsuri handoff` from submission {spec['submission']} ({spec['model']['summary']}).
Read `model-card.html` first: what it is for, what it learned from, how well it does against the
baselines, and its limits.

## Run the scoring service

```
pip install -r requirements.txt
PYTHONPATH=vendor MATSURI_TEMPLATES=vendor/templates MATSURI_COMPONENT=. \\
    uvicorn --factory matsuri.handoff.service:from_environment --port {PORT}
```

or with Docker: `docker build -t matsuri-component . && docker run -p {PORT}:{PORT} matsuri-component`
(mount the warehouse at /data/company.duckdb when the theme reads it). Then:

- `POST /predict` with `{{"rows": [...]}}`, each row holding {inputs}; at most 1,000 rows a request
  (MATSURI_MAX_ROWS). Example: `curl -s localhost:{PORT}/predict -H 'content-type: application/json' -d '{example}'`
- `GET /health`; the OpenAPI page at `/docs`.

A wrong or missing field gets HTTP 422 with one sentence per problem, naming the row and field.

## Run the batch job

`papermill batch.ipynb run.ipynb -p start 2026-03-01 -p end 2026-03-08 -p output scores.duckdb -p output_table predictions`
scores the rows whose `{spec['time']}` falls in the period into a table of its own DuckDB file (the
warehouse is only read). Weekly: `{UNIT}.service` + `{UNIT}.timer` (systemd), or the line in `cron.txt`.

## KPI and A/B test

`kpi/` holds the theme's KPI queries (`kpi.sql`), their weekly values and chart: track them every
week. `ab-plan.md` gives the sample size of the A/B test that should decide whether the model goes
live; read the results with `matsuri handoff ab-read results.csv`.

## Retrain

`{spec['retrain']}` (the same notebook, on the current warehouse), or run `notebook.ipynb` yourself.
"""
