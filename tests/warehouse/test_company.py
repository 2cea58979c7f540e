"""Is the synthetic company complete, consistent, plausible, and does it carry its planted signals?"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from conftest import build_company
from matsuri.warehouse import holdout, schema, signals
from matsuri.warehouse import japanese as ja
from matsuri.warehouse.query import table_checksums


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The default workshop scale: large enough to measure planted effects."""
    built = build_company(tmp_path_factory.mktemp("small"), scale="small", seed=11)
    con = duckdb.connect(str(built.warehouse), read_only=True)
    con.execute(f"ATTACH '{built.labels}' AS labels (READ_ONLY)")
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny(tiny_company):
    con = duckdb.connect(str(tiny_company.warehouse), read_only=True)
    yield con
    con.close()


def scalar(con, sql):
    return con.execute(sql).fetchone()[0]


def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path, tiny_company):
    """Does the same seed give byte-identical contents in every table?"""
    again = build_company(tmp_path / "again", seed=tiny_company.seed)
    other = build_company(tmp_path / "other", seed=tiny_company.seed + 1)
    first = table_checksums(tiny_company.warehouse)
    assert first == table_checksums(again.warehouse)
    assert table_checksums(tiny_company.labels) == table_checksums(again.labels)
    differing = [t for t, value in table_checksums(other.warehouse).items() if value != first[t]]
    assert {"users", "events", "push_deliveries", "sales_calls", "orders"} <= set(differing)


def test_tables_and_columns_match_the_schema(tiny, tiny_company):
    for name, columns in schema.WAREHOUSE.items():
        described = tiny.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{name}' ORDER BY ordinal_position"
        ).fetchall()
        assert described == columns, name
    tables = {r[0] for r in tiny.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables == set(schema.WAREHOUSE), "the learners' warehouse holds exactly the declared tables"
    with duckdb.connect(str(tiny_company.labels), read_only=True) as con:
        label_tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert label_tables == set(schema.LABELS)


def test_primary_keys_are_unique_and_every_foreign_key_resolves(tiny):
    for name, key in schema.PRIMARY_KEYS.items():
        cols = ", ".join(key)
        dupes = scalar(tiny, f"SELECT count(*) FROM (SELECT {cols} FROM {name} GROUP BY ALL HAVING count(*) > 1)")
        nulls = scalar(tiny, f"SELECT count(*) FROM {name} WHERE " + " OR ".join(f"{c} IS NULL" for c in key))
        assert (dupes, nulls) == (0, 0), name
    for child, col, parent, pcol in schema.FOREIGN_KEYS:
        orphans = scalar(tiny, f"SELECT count(*) FROM {child} c ANTI JOIN {parent} p ON c.{col} = p.{pcol}")
        assert orphans == 0, f"{child}.{col} -> {parent}.{pcol}"


def test_timestamps_are_consistent(tiny):
    assert scalar(tiny, "SELECT count(*) FROM events e JOIN users u USING (user_id) "
                        "WHERE e.event_at < u.signup_at OR e.event_at > coalesce(u.churned_at, TIMESTAMP '2026-04-01')") == 0
    assert scalar(tiny, "SELECT count(*) FROM push_deliveries WHERE opened_at <= delivered_at") == 0
    assert scalar(tiny, "SELECT count(*) FROM orders o JOIN users u USING (user_id) WHERE o.ordered_at < u.signup_at") == 0
    lo, hi = tiny.execute("SELECT min(event_at), max(event_at) FROM events").fetchone()
    assert lo.year == 2025 and lo.month == 4 and hi < __import__("datetime").datetime(2026, 4, 1)
    totals = scalar(tiny, "SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price) s "
                          "FROM order_items GROUP BY 1) i USING (order_id) WHERE o.total_yen <> i.s")
    assert totals == 0


def test_distributions_look_like_a_real_company(small):
    weekend, weekday = small.execute(
        "SELECT avg(n) FILTER (WHERE dow IN (0, 6)), avg(n) FILTER (WHERE dow NOT IN (0, 6)) FROM "
        "(SELECT event_at::DATE d, dayofweek(event_at::DATE) dow, count(*) n FROM events GROUP BY ALL)"
    ).fetchone()
    assert weekend > 1.1 * weekday, "app use has a weekly rhythm (busier at weekends)"
    churned = scalar(small, "SELECT avg((churned_at IS NOT NULL)::INT) FROM users")
    assert 0.2 < churned < 0.9
    top_share = scalar(small, "SELECT sum(n) FILTER (WHERE r <= 0.1 * (SELECT count(*) FROM products)) / sum(n) FROM "
                             "(SELECT product_id, count(*) n, row_number() OVER (ORDER BY count(*) DESC) r "
                             "FROM order_items GROUP BY 1)")
    assert top_share > 0.4, "a few products sell most (long tail)"
    prefectures = {r[0] for r in small.execute("SELECT DISTINCT prefecture FROM users").fetchall()}
    assert prefectures == {p for p, _ in ja.PREFECTURES}
    tokyo = scalar(small, "SELECT avg((prefecture = '東京都')::INT) FROM users")
    assert 0.08 < tokyo < 0.14
    assert scalar(small, "SELECT count(*) FROM users WHERE NOT regexp_matches(name, '^[一-龥々]+ [一-龥ぁ-ん]+$')") == 0
    length, turns = small.execute(
        "SELECT median(length(transcript)), min(length(transcript) - length(replace(transcript, '顧客:', ''))) "
        "FROM sales_calls"
    ).fetchone()
    assert 250 < length < 800 and turns >= 3 * 3, "transcripts run to several hundred characters, several turns"
    open_rate = scalar(small, "SELECT avg((opened_at IS NOT NULL)::INT) FROM push_deliveries")
    won_rate = scalar(small, "SELECT avg((outcome = 'won')::INT) FROM sales_calls")
    assert 0.05 < open_rate < 0.3 and 0.25 < won_rate < 0.65


def test_planted_keywords_move_the_won_rate_and_decoys_do_not(small):
    rows = small.execute(
        "SELECT k.keyword, k.kind, "
        "avg((c.outcome = 'won')::INT) FILTER (WHERE contains(c.transcript, k.keyword)) "
        "- avg((c.outcome = 'won')::INT) FILTER (WHERE NOT contains(c.transcript, k.keyword)) "
        "FROM sales_calls c, labels.planted_keywords k GROUP BY ALL"
    ).fetchall()
    lift = {kw: (kind, diff) for kw, kind, diff in rows}
    assert len([k for k, (kind, _) in lift.items() if kind != "decoy"]) >= 8
    for keyword, (kind, diff) in lift.items():
        if kind == "positive":
            assert diff > 0.08, keyword
        elif kind == "negative":
            assert diff < -0.08, keyword
        else:
            assert abs(diff) < 0.06, keyword


def test_no_planted_keyword_hides_in_the_neutral_sentences():
    neutral = (ja.REP_OPENINGS + ja.CUSTOMER_GREETINGS + ja.REP_PITCHES + ja.CUSTOMER_FILLERS
               + ja.REP_ACKS + ja.CUSTOMER_CLOSINGS + ja.REP_CLOSINGS)
    for phrase in signals.CALL_PHRASES:
        assert not [s for s in neutral if phrase.keyword in s], phrase.keyword
        others = [p.sentence for p in signals.CALL_PHRASES if p is not phrase]
        assert not [s for s in others if phrase.keyword in s], phrase.keyword


def test_push_opens_follow_the_planted_drivers(small):
    def rate(where):
        return scalar(small, "SELECT avg((d.opened_at IS NOT NULL)::INT) FROM push_deliveries d "
                             f"JOIN push_notifications p USING (push_id) WHERE {where}")

    assert rate("hour(p.sent_at) IN (20, 21)") > 1.5 * rate("hour(p.sent_at) BETWEEN 1 AND 4")
    assert rate("p.personalized") > 1.2 * rate("NOT p.personalized")
    assert rate("regexp_matches(p.title, '[✨🎉💪🍎⏰]')") > 1.1 * rate("NOT regexp_matches(p.title, '[✨🎉💪🍎⏰]')")
    assert rate("p.category = 'campaign' AND p.target_segment = 'dormant'") > 1.5 * rate(
        "p.category = 'campaign' AND p.target_segment = 'premium'")
    # A user's own history predicts their next open.
    habit = scalar(small, "WITH u AS (SELECT user_id, avg((opened_at IS NOT NULL)::INT) r, count(*) n "
                          "FROM push_deliveries GROUP BY 1 HAVING n >= 10) SELECT corr(r, n) FROM u")
    assert habit is not None
    spread = scalar(small, "SELECT stddev(r) FROM (SELECT avg((opened_at IS NOT NULL)::INT) r FROM push_deliveries "
                           "GROUP BY user_id HAVING count(*) >= 10)")
    assert spread > 0.08, "users differ in how often they open"


def test_products_follow_their_planted_successor(small):
    """Is the next order's main item the planted successor far more often than its own popularity says?"""
    followed, by_chance = small.execute(
        "WITH main AS (SELECT o.user_id, o.ordered_at, i.product_id FROM orders o JOIN order_items i "
        "  ON i.order_id = o.order_id AND i.line_no = 1), "
        "share AS (SELECT product_id, count(*) / sum(count(*)) OVER () s FROM main GROUP BY 1), "
        "seq AS (SELECT product_id, lead(product_id) OVER (PARTITION BY user_id ORDER BY ordered_at) nxt FROM main) "
        "SELECT avg((q.nxt = p.next_product_id)::INT), avg(coalesce(sh.s, 0)) "
        "FROM seq q JOIN labels.planted_successors p USING (product_id) "
        "LEFT JOIN share sh ON sh.product_id = p.next_product_id WHERE q.nxt IS NOT NULL"
    ).fetchone()
    assert followed > 0.4 and followed > 5 * by_chance


def test_holdouts_are_split_off_and_their_labels_kept_apart(small):
    # Push: the last pushes' deliveries are only in the holdout table, without opened_at.
    assert scalar(small, "SELECT count(*) FROM holdout_push_deliveries h JOIN push_deliveries d USING (delivery_id)") == 0
    assert scalar(small, "SELECT min(h.push_id) > max(d.push_id) FROM holdout_push_deliveries h, push_deliveries d")
    assert scalar(small, "SELECT count(*) FROM holdout_push_deliveries h FULL JOIN labels.push_open_labels l "
                         "USING (delivery_id) WHERE h.delivery_id IS NULL OR l.delivery_id IS NULL") == 0
    share = scalar(small, "SELECT count(DISTINCT push_id) / (SELECT count(*) FROM push_notifications) "
                          "FROM holdout_push_deliveries")
    assert abs(share - holdout.HOLDOUT_SHARE) < 0.02
    # Calls: the holdout rows have no outcome anywhere in the warehouse.
    assert scalar(small, "SELECT count(*) FROM holdout_sales_calls h JOIN sales_calls c USING (call_id)") == 0
    assert scalar(small, "SELECT count(*) FROM holdout_sales_calls h ANTI JOIN labels.call_outcome_labels l "
                         "USING (call_id)") == 0
    # Ordering: holdout users have no order after the cutoff; their labels all fall after it.
    assert scalar(small, "SELECT count(*) FROM orders o JOIN holdout_ordering_users h USING (user_id) "
                         "WHERE o.ordered_at >= h.cutoff_at") == 0
    assert scalar(small, "SELECT count(*) FROM labels.ordering_labels l JOIN holdout_ordering_users h "
                         "USING (user_id) WHERE l.first_bought_at < h.cutoff_at") == 0
    assert scalar(small, "SELECT count(DISTINCT user_id) FROM labels.ordering_labels") == scalar(
        small, "SELECT count(*) FROM holdout_ordering_users")
    columns = {r[0] for r in small.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog <> 'labels' "
        "AND table_name LIKE 'holdout_%'").fetchall()}
    assert not columns & {"opened_at", "outcome", "opened", "won", "first_bought_at", "churned"}


def test_labels_store_is_for_the_organiser_only(tiny_company):
    assert tiny_company.labels.stat().st_mode & 0o777 == 0o600
    assert tiny_company.labels.parent.stat().st_mode & 0o777 == 0o700
    assert not tiny_company.labels.parent.samefile(tiny_company.warehouse.parent)


def test_scales_grow_as_documented():
    from matsuri.warehouse.scales import SCALES

    assert SCALES["large"].users == 1_000_000 and SCALES["large"].events == 20_000_000
    assert SCALES["tiny"].users < SCALES["small"].users < SCALES["large"].users
    np.testing.assert_allclose(signals.PUSH_CATEGORY_SEGMENT.shape, (5, 4))
