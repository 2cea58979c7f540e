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
