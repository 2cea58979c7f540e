"""Scoring 1,000 prediction files on the hidden labels (target: under 15 s on 2 cores, at most 25
CPU-ms a file).

The files are shared equally by the themes (every folder of templates/ with a theme.toml) at the
`small` scale (e.g. 120,000 rows per push file, 800 per call file plus 20 keywords, 19,060 per
ordering file), with random but valid predictions made from each theme's spec. Each is fully
checked (ids, types, ranges, repeats) and scored on its public and private parts, as a submission is.

Compared in the same run with the obvious alternative: for every file, open the warehouse and the
labels store, read the CSV with pandas' default parser, join, and compute the same metrics (no
checks). Both give identical scores (verified on a sample). Totals are medians of RUNS runs; the
CPU time counts the workers too. Per theme, the CPU-ms a file of one process on the sample.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import median, save  # noqa: E402

from matsuri import metrics, theme_spec  # noqa: E402
from matsuri.hackathon import scoring  # noqa: E402
from matsuri.warehouse.build import build  # noqa: E402

FILES = 1_000
RUNS = 3
TARGET_SECONDS, TARGET_CPU_MS = 15, 25
NAIVE_SAMPLE = 60
THEMES = list(theme_spec.all_themes())   # every theme folder of templates/, files as its spec says
WORDS = ["見積もり", "稟議", "予算", "資料", "他社", "来月", "検討", "共有", "導入", "価格"]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the scoring workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def random_file(file, spec, con, rng) -> pd.DataFrame:
    """Random but valid content for one prediction file of a theme spec."""
    if file.kind == "keywords":
        return pd.DataFrame({"rank": range(1, 11), "keyword": rng.permutation(WORDS)})
    ids = con.execute(f"SELECT {spec.id_column} FROM {spec.holdout_table}").fetchnumpy()[spec.id_column]
    if file.kind in ("probability", "value"):
        return pd.DataFrame({spec.id_column: ids, file.columns[1]: rng.random(len(ids)).round(5)})
    items = next(iter(con.execute(file.items_sql).fetchnumpy().values()))
    picks = np.array([rng.choice(items, file.k, replace=False) for _ in ids])
    return pd.DataFrame({spec.id_column: np.repeat(ids, file.k), file.item: picks.ravel(),
                         "rank": np.tile(np.arange(1, file.k + 1), len(ids))})


def make_files(root: Path, warehouse: Path, labels: Path) -> list[scoring.ScoringJob]:
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    specs = theme_spec.all_themes()
    jobs = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for i in range(FILES):
            spec = specs[THEMES[i % len(THEMES)]]
            folder = root / f"{i:04d}"
            folder.mkdir()
            for file in spec.files:
                frame = random_file(file, spec, con, rng)
                pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), folder / file.name,
                                pacsv.WriteOptions(quoting_style="none"))
            jobs.append(scoring.ScoringJob(folder, spec.id, 0.3, 2026, 50_000_000, warehouse, labels))
    return jobs


def naive(job: scoring.ScoringJob) -> dict[str, dict[str, float]]:
    """The obvious way: open both stores per file, pandas.read_csv, merge, metrics (no checks)."""
    import duckdb

    spec = theme_spec.get(job.theme)
    key = spec.id_column
    with duckdb.connect(str(job.warehouse), read_only=True) as w, duckdb.connect(str(job.labels), read_only=True) as lab:
        ids = w.execute(f"SELECT {key} FROM {spec.holdout_table} ORDER BY 1").df()[key].to_numpy()
        truth = lab.execute(spec.labels_sql).df()
        truth.columns = [key, "truth"]
        public = scoring.public_mask(ids, job.theme, job.seed, job.public_share)
        result = {}
        for part, chosen in (("public", ids[public]), ("private", ids[~public])):
            scores = {}
            for file in spec.files:
                table = pd.read_csv(job.folder / file.name)
                if file.kind in ("probability", "value"):
                    joined = table.merge(truth, on=key).sort_values(key)
                    joined = joined[joined[key].isin(chosen)]
                    for m in spec.metrics:
                        if m.file == file.name:
                            scores[m.name] = metrics.METRICS[m.base].compute(
                                joined["truth"].to_numpy(), joined[file.columns[1]].to_numpy())
                elif file.kind == "ranking":
                    relevant = truth.rename(columns={"truth": file.item})
                    scores |= metrics.ranking_scores(table[table[key].isin(chosen)],
                                                     relevant[relevant[key].isin(chosen)],
                                                     k=file.k, id=key, item=file.item)
                else:
                    planted = lab.execute(file.planted_sql).df().iloc[:, 0].tolist()
                    scores["keyword_hits"] = float(len(metrics.keyword_hits(table["keyword"].tolist(),
                                                                            planted, top=file.k)))
            result[part] = {m.name: scores[m.name] for m in spec.metrics}
        return result


def same(a: dict, b: dict) -> bool:
    return all(abs(a[p][m] - b[p][m]) < 1e-9 for p in a for m in a[p])


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="matsuri-bench-scoring-"))
    try:
        built = build("small", 42, out_dir=root / "company", progress=False)
        started = time.perf_counter()
        (root / "files").mkdir()
        jobs = make_files(root / "files", built.warehouse, built.labels)
        size = sum((j.folder / "predictions.csv").stat().st_size for j in jobs)
        print(f"{FILES} files ({size / 1e9:.2f} GB) written in {time.perf_counter() - started:.0f} s")

        totals, cpu = {}, {}
        for workers in (2, 1):
            runs, cpus = [], []
            for _ in range(RUNS if workers == 2 else 1):
                scoring._key.cache_clear()
                start, used = time.perf_counter(), cpu_seconds()
                results = scoring.score_many(jobs, workers=workers, progress=False)
                runs.append(time.perf_counter() - start)
                cpus.append(cpu_seconds() - used)
                assert not any(isinstance(r, Exception) for r in results), "a generated file was refused"
            totals[workers], cpu[workers] = median(runs), median(cpus)
            print(f"matsuri scoring, {workers} process(es): {totals[workers]:.1f} s wall for {FILES} files, "
                  f"{cpu[workers]:.1f} CPU-s ({1000 * cpu[workers] / FILES:.0f} CPU-ms a file)")
        print(f"machine load while measuring (1-min average): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"on 2 idle cores the CPU time gives {cpu[2] / 2:.1f} s")

        sample = jobs[:NAIVE_SAMPLE]
        ours, theirs, ours_cpu = [], [], []
        for job in sample:
            start, used = time.perf_counter(), time.process_time()
            mine = scoring.score_folder(job)
            ours.append(time.perf_counter() - start)
            ours_cpu.append(time.process_time() - used)
            start = time.perf_counter()
            other = naive(job)
            theirs.append(time.perf_counter() - start)
            assert same(mine, other), f"scores differ for {job.folder}"
        by_theme = {t: (median([o for o, j in zip(ours, sample, strict=True) if j.theme == t]),
                        median([n for n, j in zip(theirs, sample, strict=True) if j.theme == t])) for t in THEMES}
        cpu_by_theme = {t: median([c for c, j in zip(ours_cpu, sample, strict=True) if j.theme == t]) for t in THEMES}
        for theme, (mine, other) in by_theme.items():
            print(f"  {theme}: {1000 * cpu_by_theme[theme]:.1f} CPU-ms a file; {1000 * mine:.0f} ms a file (checked) "
                  f"vs {1000 * other:.0f} ms naive (unchecked) -> {other / mine:.1f}x")
        naive_total = sum(median([n for n, j in zip(theirs, sample, strict=True) if j.theme == t]) for t in THEMES) / len(THEMES) * FILES
        print(f"naive, one process, estimated from {NAIVE_SAMPLE} files: {naive_total:.0f} s for {FILES} "
              f"files; matsuri on 2 cores is {naive_total / totals[2]:.1f}x faster")
        met = totals[2] < TARGET_SECONDS and 1000 * cpu[2] / FILES <= TARGET_CPU_MS
        print(f"target: {FILES} files under {TARGET_SECONDS} s on 2 cores, at most {TARGET_CPU_MS} CPU-ms a file "
              f"-> {'met' if met else 'NOT met'}")
        save("scoring", {"files": FILES, "bytes": size, "seconds_2_workers": totals[2], "cpu_seconds": cpu[2],
                         "cpu_ms_per_file": 1000 * cpu[2] / FILES, "load_1min": os.getloadavg()[0],
                         "seconds_1_worker": totals[1], "naive_seconds_estimated": naive_total,
                         "per_theme_ms": {t: [1000 * a, 1000 * b] for t, (a, b) in by_theme.items()},
                         "per_theme_cpu_ms": {t: 1000 * c for t, c in cpu_by_theme.items()}})
        return 0 if met else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
