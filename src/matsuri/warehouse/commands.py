"""`matsuri data …`: build, describe and query the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("build")
def build_command(
    scale: str = typer.Option("small", help="tiny (tests, seconds) | small (a workshop) | large (≈1 M users)."),
    seed: int = typer.Option(42, help="Same seed, same company: table contents are identical."),
    out: Path = typer.Option(None, help="Folder for company.duckdb (default: datasets/build)."),
    labels_out: Path = typer.Option(None, help="Folder for the organiser-only labels store."),
    force: bool = typer.Option(False, help="Replace an existing warehouse (only once the new one is built)."),
) -> None:
    """Build the synthetic company into a DuckDB file, and its hackathon labels into a separate store."""
    from matsuri.warehouse.build import build

    result = build(scale, seed, out, labels_out, force=force)
    typer.secho(f"Built {result.warehouse} ({scale}, seed {seed})", fg="green")
    typer.echo(f"Organiser-only labels: {result.labels} (keep this away from participants)")


@app.command("describe")
def describe_command(
    warehouse: Path = typer.Option(None, help="The DuckDB file (default: the built warehouse)."),
) -> None:
    """List tables, their row counts and columns."""
    from rich.console import Console
    from rich.table import Table

    from matsuri.warehouse import query

    with query.connect(warehouse) as con:
        infos = query.describe(con)
    table = Table("table", "rows", "columns")
    for info in infos:
        table.add_row(info.name, f"{info.rows:,}", ", ".join(f"{c} {t.lower()}" for c, t in info.columns))
    Console().print(table)


@app.command("query")
def query_command(
    sql: str = typer.Argument(..., help="One SQL statement; the warehouse is read-only."),
    warehouse: Path = typer.Option(None, help="The DuckDB file (default: the built warehouse)."),
    limit: int = typer.Option(50, help="Show at most this many rows."),
) -> None:
    """Run a read-only SQL query and print the result as a table."""
    from rich.console import Console
    from rich.table import Table

    from matsuri.warehouse import query

    with query.connect(warehouse) as con:
        result = query.run(con, sql)
        if result is None:
            typer.echo("OK (the statement returned no rows).")
            return
        columns = result.columns
        rows = result.limit(limit + 1).fetchall()
    table = Table(*columns)
    for row in rows[:limit]:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    Console().print(table)
    if len(rows) > limit:
        typer.echo(f"(showing the first {limit} rows; use --limit to see more)")


@app.command("check")
def check_command(
    source: Path = typer.Argument(..., help="A DuckDB file, a Parquet/CSV file, or a folder of them "
                                  "(each file is the table its name says)."),
    theme: str = typer.Option(..., help="The theme whose data contract to check against, e.g. push-open-rate."),
    params: Path = typer.Option(None, "--params", "-f", help="The YAML file of parameters you pass to "
                                "papermill -f: table_names, column_names, files, time_zone."),
) -> None:
    """Check a company's data against a theme's contract before the event: what the template will
    accept, fix or refuse, table by table and column by column."""
    from rich.console import Console

    from matsuri.errors import UsageError
    from matsuri.templates import own_data
    from matsuri.templates.contract import Findings

    report = own_data.check(source, theme, params)
    console = Console(soft_wrap=True)  # whole lines: a data team greps and pastes them
    for line in report.notes:
        console.print(line)
    for where, found, action, todo in report.findings.frame("en").itertuples(index=False):
        colour = "red" if action == Findings.ACTIONS["stop"][0] else "yellow"
        console.print(f"[bold]{where}[/bold] {found}\n  [{colour}]the template {action}[/{colour}]: {todo}",
                      highlight=False, markup=True)
    stops = [f for f in report.findings if f.stops]
    if stops:
        raise UsageError(f"{len(stops)} problem{'s' if len(stops) > 1 else ''} would stop the template "
                         "before training (marked 'stops' above). Fix the export or map it with the "
                         "parameters, then check again.")
    typer.secho(f"The data meets the {theme} contract: the template can run on it.", fg="green")


@app.command("contract")
def contract_command(
    theme: str = typer.Option(..., help="The theme, e.g. push-open-rate."),
    language: str = typer.Option("en", help="ja or en."),
) -> None:
    """Print a theme's data contract as a Markdown table (the tables and columns its template reads)."""
    from matsuri import theme_spec
    from matsuri.templates.contract import markdown

    typer.echo(markdown(theme_spec.get(theme).data, language))
