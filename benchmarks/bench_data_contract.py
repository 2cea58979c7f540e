"""The data contract's cost when a starter opens the data, at `small`.

For each theme, in the same run (median of rounds, alternating):
- open: the contract checked (types, empty values, duplicate keys) against only the names checked
  (what open_warehouse did before contracts: the obvious alternative);
- read: the theme's load query on the original warehouse against the same query on a copy whose
  dates are ISO text and epoch milliseconds (read through the casting views);
- files: the same copy's tables kept as Parquet files, read into the private snapshot.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri.templates.tables import open_warehouse  # noqa: E402
from matsuri.theme_spec import all_themes  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

ROUNDS = 5


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def shaped(warehouse: Path, folder: Path, needs) -> tuple[Path, dict]:
    """Dates as ISO text (odd columns) and epoch milliseconds (even ones); and each table as a
    Parquet file too (returned as the `files` parameter)."""
    copy = folder / "shaped.duckdb"
    shutil.copy(warehouse, copy)
    files, n = {}, 0
    with duckdb.connect(str(copy)) as con:
        for table, contract in needs.items():
            dates = [c.name for c in contract.columns if c.type == "timestamp"]
            replace = []
            for column in dates:
                n += 1
                replace.append(f"CAST(\"{column}\" AS VARCHAR) AS \"{column}\"" if n % 2 else
                               f"epoch_ms(timezone('Asia/Tokyo', \"{column}\")) AS \"{column}\"")
            select = f"SELECT * REPLACE ({', '.join(replace)}) FROM \"{table}\"" if replace else f'SELECT * FROM "{table}"'
            con.execute(f'CREATE TABLE "shaped_{table}" AS {select}')
            con.execute(f'DROP TABLE "{table}"')
            con.execute(f'ALTER TABLE "shaped_{table}" RENAME TO "{table}"')
            files[table] = str(folder / f"{table}.parquet")
            con.execute(f"COPY \"{table}\" TO '{files[table]}'")
    return copy, files


def measure(spec, company, work: Path) -> dict:
    library = importlib.import_module(spec.library)
    needs = library.NEEDS
    names = {t: c.column_names for t, c in needs.items()}
    load = getattr(library, "LOAD_SQL", None)
    folder = work / spec.id
    folder.mkdir()
    copy, files = shaped(company.warehouse, folder, needs)
    rounds = {"open_contract_s": [], "open_names_s": [], "read_original_s": [], "read_shaped_s": [],
              "open_parquet_s": []}
    for _ in range(ROUNDS):
        rounds["open_names_s"].append(timed(lambda: open_warehouse(company.warehouse, names).close()))
        rounds["open_contract_s"].append(timed(lambda: open_warehouse(company.warehouse, needs).close()))
        rounds["open_parquet_s"].append(timed(lambda: open_warehouse(None, needs, files=files).close()))
        if load:
            with open_warehouse(company.warehouse, needs) as con:
                rounds["read_original_s"].append(timed(lambda c=con: c.execute(load).df()))
            with open_warehouse(copy, needs) as con:
                rounds["read_shaped_s"].append(timed(lambda c=con: c.execute(load).df()))
    result = {k: median(v) for k, v in rounds.items() if v}
    result["contract_over_names"] = result["open_contract_s"] / result["open_names_s"]
    if load:
        result["shaped_over_original"] = result["read_shaped_s"] / result["read_original_s"]
    return result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="matsuri-bench-contract-"))
    company = build("small", 7, out_dir=work / "small", progress=False)
    results = {}
    for spec in all_themes().values():
        result = results[spec.id] = measure(spec, company, work)
        print(f"{spec.id}: open {result['open_contract_s'] * 1000:.0f} ms with the contract, "
              f"{result['open_names_s'] * 1000:.0f} ms names only ({result['contract_over_names']:.1f}x); "
              f"Parquet files {result['open_parquet_s'] * 1000:.0f} ms"
              + (f"; load query {result['read_shaped_s'] * 1000:.0f} ms on text/epoch dates against "
                 f"{result['read_original_s'] * 1000:.0f} ms ({result['shaped_over_original']:.2f}x)"
                 if "read_shaped_s" in result else ""),
              flush=True)
    print(f"results: {save('data_contract', results)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
