"""`matsuri data build`: generate the company, split the holdouts, write two DuckDB files atomically.

Both files are written under temporary names beside their targets and renamed only when the whole
build succeeded, so an interrupted or failed build leaves the previous warehouse as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from matsuri import __version__
from matsuri.errors import AlreadyExists, Interrupted, MatsuriError, OutOfSpace, UsageError
from matsuri.stopping import stoppable
from matsuri.warehouse import churn, holdout, notifications, people, sales, schema, shop, signals
from matsuri.warehouse.scales import Scale, get_scale

WAREHOUSE_FILE = "company.duckdb"
LABELS_FILE = "organiser/labels.duckdb"


@dataclass
class BuildResult:
    warehouse: Path
    labels: Path
    scale: str
    seed: int
    rows: dict[str, int]


def output_paths(out_dir: Path | None, labels_dir: Path | None) -> tuple[Path, Path]:
    from matsuri import paths

    warehouse = Path(out_dir) / WAREHOUSE_FILE if out_dir else paths.warehouse_path()
    if labels_dir:
        labels = Path(labels_dir) / Path(LABELS_FILE).name
    elif out_dir:
        labels = Path(out_dir) / LABELS_FILE
    else:
        labels = paths.labels_path()
    return warehouse, labels


def _check_target(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise AlreadyExists(
            f"{path} already exists. Use --force to replace it (the old file is kept until the new "
            "build has finished), or choose another folder with --out."
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"Cannot create the folder {parent}: {error.strerror}. Choose another --out.") from None
    if not os.access(parent, os.W_OK):
        raise UsageError(f"Cannot write to {parent}: permission denied. Choose another --out.")


def _generate(scale: Scale, seed: int, bar: tqdm) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The whole company in memory, in dependency order; each part has its own random stream."""
    streams = iter(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12))
    learners: dict[str, pd.DataFrame] = {}
    labels: dict[str, pd.DataFrame] = {}

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    users = people.make_users(next(streams), scale)
    learners["users"] = users.frame
    step("users")
    learners["events"] = people.make_events(next(streams), scale, users)
    step("events")
    pushes = notifications.make_pushes(next(streams), scale)
    deliveries = notifications.make_deliveries(next(streams), scale, users, pushes)
    learners["push_notifications"] = pushes
    split = holdout.split_push(pushes, deliveries)
    learners |= split.learners
    labels |= split.labels
    step("push notifications")
    products, popularity, successor = shop.make_products(next(streams), scale)
    orders, items = shop.make_orders(next(streams), scale, users, products, popularity, successor)
    learners["products"] = products
    split = holdout.split_orders(next(streams), orders, items)
    learners |= split.learners
    labels |= split.labels
    has = successor >= 0
    labels["planted_successors"] = pd.DataFrame({
        "product_id": np.flatnonzero(has).astype(np.int64) + 1,
        "next_product_id": successor[has].astype(np.int64) + 1,
    })
    step("shop")
    accounts = sales.make_accounts(next(streams), scale)
    reps, skill = sales.make_reps(next(streams), scale)
    calls, _ = sales.make_calls(next(streams), scale, accounts, skill)
    learners |= {"accounts": accounts, "sales_reps": reps}
    split = holdout.split_calls(calls)
    learners |= split.learners
    labels |= split.labels
    labels["planted_keywords"] = pd.DataFrame(
        [(p.sentence, p.keyword, p.kind, p.effect) for p in signals.CALL_PHRASES],
        columns=["phrase", "keyword", "kind", "effect"],
    )
    labels["build_info"] = pd.DataFrame(
        [("scale", scale.name), ("seed", str(seed)), ("matsuri_version", __version__)],
        columns=["key", "value"],
    )
    step("sales")
    outcomes = churn.make_outcomes(next(streams), scale, users, learners["events"], deliveries,
                                   learners["push_deliveries"])
    split = holdout.split_churn(next(streams), outcomes)
    learners |= split.learners
    labels |= split.labels
    step("churn")
    return learners, labels


def _write(path: Path, tables: dict[str, list[tuple[str, str]]], frames: dict[str, pd.DataFrame],
           bar: tqdm, stamp: str = "") -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET threads = 2")
        for name, columns in tables.items():
            con.execute(schema.create_sql(name, columns))
            frame = frames[name]
            select = ", ".join(f"CAST({col} AS {typ}) AS {col}" for col, typ in columns)
            con.register("frame", frame)
            con.execute(f"INSERT INTO {name} SELECT {select} FROM frame")
            con.unregister("frame")
            if stamp:  # which build this is: course keys made on another one are noticed
                con.execute(f"COMMENT ON TABLE {name} IS '{stamp}'")
            bar.set_postfix_str(f"writing {name}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    bar.update(1)


def build_stamp(scale: str, seed: int) -> str:
    """One line saying which build a table belongs to (checks.key_file.warehouse_build reads it)."""
    import uuid

    return f"matsuri company · scale {scale} · seed {seed} · build {uuid.uuid4().hex[:12]}"


def _is_out_of_space(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    text = str(error).lower()
    return any(s in text for s in ("no space left", "file too large", "disk quota", "not enough space"))


def build(
    scale: str = "small",
    seed: int = 42,
    out_dir: Path | None = None,
    labels_dir: Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build the warehouse and the organiser store. Same scale and seed: same table contents."""
    chosen = get_scale(scale)
    if seed < 0:
        raise UsageError(f"The seed must be 0 or a positive whole number, not {seed}.")
    warehouse, labels = output_paths(out_dir, labels_dir)
    _check_target(warehouse, force)
    _check_target(labels, force)
    tmp_warehouse = warehouse.with_name(f".{warehouse.name}.building-{os.getpid()}")
    tmp_labels = labels.with_name(f".{labels.name}.building-{os.getpid()}")
    try:
        with stoppable(), tqdm(total=8, desc=f"Building the {scale} company", unit="step", disable=not progress) as bar:
            learners, secret = _generate(chosen, seed, bar)
            stamp = build_stamp(scale, seed)
            _write(tmp_warehouse, schema.WAREHOUSE, learners, bar, stamp)
            _write(tmp_labels, schema.LABELS, secret, bar)
        os.chmod(tmp_labels, 0o600)
        with contextlib.suppress(OSError):
            os.chmod(labels.parent, 0o700)
        os.replace(tmp_labels, labels)
        os.replace(tmp_warehouse, warehouse)
    except KeyboardInterrupt:
        raise Interrupted("The build was interrupted; the previous warehouse is unchanged.") from None
    except MatsuriError:
        raise
    except Exception as error:
        if _is_out_of_space(error):
            raise OutOfSpace(
                f"Ran out of disk space while writing {warehouse.parent}; the previous warehouse is "
                "unchanged. Free some space or build a smaller --scale."
            ) from None
        raise
    finally:
        for tmp in (tmp_warehouse, tmp_labels):
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    return BuildResult(warehouse, labels, scale, seed, {k: len(v) for k, v in learners.items()})
