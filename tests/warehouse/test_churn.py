"""The `churn` theme's data: who is active at the cutoff, a clean split, hidden answers, real drivers."""

from __future__ import annotations

import dataclasses

import duckdb
import numpy as np
import pytest

from matsuri.warehouse import churn, holdout, notifications, people, schema
from matsuri.warehouse.scales import get_scale

CUTOFF = "TIMESTAMP '2026-04-01 00:00:00'"
ACTIVE = (
    "SELECT DISTINCT e.user_id FROM events e JOIN users u USING (user_id) "
    f"WHERE e.event_at >= {CUTOFF} - INTERVAL 28 DAY AND e.event_at < {CUTOFF} AND u.churned_at IS NULL"
)
# Every active user with the answer (training half from the warehouse, held-out half from the labels)
# and what the learners can see before the cutoff.
SEEN = f"""
WITH outcome AS (
    SELECT user_id, churned FROM churn_training_users
    UNION ALL SELECT user_id, churned FROM lab.churn_labels
), ev AS (
    SELECT user_id,
           count(*) FILTER (WHERE event_at >= {CUTOFF} - INTERVAL 14 DAY) AS recent,
           count(*) FILTER (WHERE event_at < {CUTOFF} - INTERVAL 14 DAY) AS earlier
    FROM events
    WHERE event_at >= {CUTOFF} - INTERVAL 56 DAY AND event_at < {CUTOFF}
    GROUP BY user_id
), pu AS (
    SELECT user_id, count(*) AS pushes FROM (
        SELECT user_id, delivered_at FROM push_deliveries
        UNION ALL SELECT user_id, delivered_at FROM holdout_push_deliveries)
    WHERE delivered_at >= {CUTOFF} - INTERVAL 28 DAY AND delivered_at < {CUTOFF}
    GROUP BY user_id
)
SELECT o.user_id, o.churned, u.plan = 'premium' AS premium,
       greatest(least(log2((ev.earlier / 3 + 1) / (ev.recent + 1)), 3), 0) AS fall,
       coalesce(pu.pushes, 0) AS pushes
FROM outcome o JOIN users u USING (user_id) JOIN ev USING (user_id) LEFT JOIN pu USING (user_id)
"""


@pytest.fixture(scope="module")
def con(tiny_company):
    con = duckdb.connect(str(tiny_company.warehouse), read_only=True)
    con.execute(f"ATTACH '{tiny_company.labels}' AS lab (READ_ONLY)")
    yield con
    con.execute("DETACH lab")  # connections to one file share a database: leave no labels attached
    con.close()


def scalar(con, sql):
    return con.execute(sql).fetchone()[0]


def ids(con, sql) -> set[int]:
    return {r[0] for r in con.execute(sql).fetchall()}


def test_every_active_user_is_in_exactly_one_half(con):
    """Are the users active at the cutoff split into a training half and a held-out half?"""
    active = ids(con, ACTIVE)
    training = ids(con, "SELECT user_id FROM churn_training_users")
    held = ids(con, "SELECT user_id FROM holdout_churn_users")
    assert len(active) > 300
    assert training | held == active and not training & held
    assert len(held) == int(len(active) * holdout.CHURN_USER_SHARE)
    assert scalar(con, "SELECT count(*) FROM (SELECT DISTINCT cutoff_at FROM holdout_churn_users "
                       "UNION SELECT DISTINCT cutoff_at FROM churn_training_users)") == 1
    assert scalar(con, "SELECT min(cutoff_at) FROM holdout_churn_users").isoformat() == "2026-04-01T00:00:00"


def test_answers_for_the_held_out_half_are_only_in_the_labels_store(con):
    assert ids(con, "SELECT user_id FROM lab.churn_labels") == ids(con, "SELECT user_id FROM holdout_churn_users")
    learners = ids(con, "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()")
    assert "churn_labels" not in learners and "churn_training_users" in learners
    columns = ids(con, "SELECT column_name FROM information_schema.columns "
                       "WHERE table_catalog = current_database() AND table_name = 'holdout_churn_users'")
    assert columns == {"user_id", "cutoff_at"}


def test_nothing_from_after_the_cutoff_is_visible_for_held_out_users(con):
    """Would a post-cutoff trace of a held-out user (an event, a push, an order, a churn date) show?"""
    checked = 0
    for table, columns in schema.WAREHOUSE.items():
        names = [c for c, _ in columns]
        stamps = [c for c, t in columns if t == "TIMESTAMP" and c != "cutoff_at"]
        if "user_id" not in names or not stamps or table == "holdout_churn_users":
            continue
        late = " OR ".join(f"x.{c} >= {CUTOFF}" for c in stamps)
        visible = scalar(con, f"SELECT count(*) FROM {table} x JOIN holdout_churn_users h USING (user_id) "
                              f"WHERE {late}")
        assert visible == 0, f"{table} shows what held-out users did after the cutoff"
        checked += 1
    assert checked >= 5  # users, events, push_deliveries, holdout_push_deliveries, orders, ...
    assert scalar(con, "SELECT count(*) FROM users JOIN holdout_churn_users USING (user_id) "
                       "WHERE churned_at IS NOT NULL") == 0, "a churn date would give the answer away"
    assert scalar(con, "SELECT max(event_at) < min(cutoff_at) FROM events, holdout_churn_users")


def test_churn_rate_is_plausible(con):
    rate = scalar(con, "SELECT avg(churned::INT) FROM (SELECT churned FROM churn_training_users "
                       "UNION ALL SELECT churned FROM lab.churn_labels)")
    assert 0.12 < rate < 0.4


def test_users_whose_activity_fell_churn_more(con):
    """Is the strongest planted driver, falling activity, plain to see in the data?"""
    con.execute(f"CREATE TEMP TABLE seen AS {SEEN}")
    try:
        assert scalar(con, "SELECT count(*) FROM seen") == scalar(con, f"SELECT count(*) FROM ({ACTIVE})")
        fell, steady = con.execute(
            "SELECT avg(churned::INT) FILTER (WHERE fall >= 1), avg(churned::INT) FILTER (WHERE fall = 0) FROM seen"
        ).fetchone()
        assert fell > 2 * steady, "users whose activity fell by half churn far more often"
        fall_churned, fall_stayed = con.execute(
            "SELECT avg(fall) FILTER (WHERE churned), avg(fall) FILTER (WHERE NOT churned) FROM seen"
        ).fetchone()
        assert fall_churned > fall_stayed + 0.2
    finally:
        con.execute("DROP TABLE seen")


@pytest.fixture(scope="module")
def company():
    """A tiny company's users, events and deliveries (all, and those whose opens learners see)."""
    scale = get_scale("tiny")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(4)]
    users = people.make_users(streams[0], scale)
    events = people.make_events(streams[1], scale, users)
    pushes = notifications.make_pushes(streams[2], scale)
    deliveries = notifications.make_deliveries(streams[3], scale, users, pushes)
    seen = holdout.split_push(pushes, deliveries).learners["push_deliveries"]
    return scale, users, events, deliveries, seen


def outcome(company, seed=1, deliveries=None, **user_changes):
    scale, users, events, all_deliveries, seen = company
    frame = churn.make_outcomes(np.random.default_rng(seed), scale, dataclasses.replace(users, **user_changes),
                                events, all_deliveries if deliveries is None else deliveries, seen)
    return frame["user_id"].to_numpy() - 1, frame["churned"].to_numpy()


def test_the_same_stream_gives_the_same_month_after(company):
    who, first = outcome(company)
    assert np.array_equal(first, outcome(company)[1])
    assert not np.array_equal(first, outcome(company, seed=2)[1])


def test_pushes_and_the_free_plan_drive_churn_everything_else_held(company):
    """With the same random draws, do fewer pushes and a premium plan only ever keep users?"""
    scale, users, events, deliveries, seen = company
    who, churned = outcome(company)
    early = deliveries[deliveries["delivered_at"] < churn.CUTOFF - np.timedelta64(churn.PUSH_DAYS, "D")]
    _, unpushed = outcome(company, deliveries=early)
    assert not (unpushed & ~churned).any(), "removing pushes never makes a user churn"
    opener = churn.behaviour(users, events, deliveries, seen).opener
    assert (churned & ~unpushed)[~opener].sum() >= 5, "pushes drive away users who never open them"
    assert np.array_equal(churned[opener], unpushed[opener]), "users who open pushes are not put off"
    _, all_premium = outcome(company, premium=np.ones_like(users.premium))
    assert not (all_premium & ~churned).any()
    assert (churned & ~all_premium)[~users.premium[who]].sum() >= 5, "premium users quit less"
