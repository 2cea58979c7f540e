"""B2B sales: accounts, reps, and calls whose Japanese transcripts carry the planted phrases."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from matsuri.warehouse import japanese as ja
from matsuri.warehouse import signals as sig
from matsuri.warehouse import timeline as tl
from matsuri.warehouse.frames import categorical, combine, sigmoid, zipf_weights
from matsuri.warehouse.scales import Scale

COMPANY_MIDDLES = ["", "ライフ", "ネクスト", "ワークス", "グローバル", "ソリューションズ"]
CALL_HOURS = np.array([0] * 9 + [3, 5, 4, 1, 4, 5, 5, 4, 3] + [0] * 6, dtype=float)
SALES = "営業: "
CUSTOMER = "顧客: "


def make_accounts(rng: np.random.Generator, scale: Scale) -> pd.DataFrame:
    n = scale.accounts
    names = combine(combine(ja.COMPANY_STEMS, COMPANY_MIDDLES), ja.COMPANY_SUFFIXES)
    names = [f"株式会社{x}" for x in names] + [f"{x}株式会社" for x in names]
    pref = np.array([w for _, w in ja.PREFECTURES], dtype=float) ** 1.5  # firms cluster in cities
    return pd.DataFrame({
        "account_id": np.arange(1, n + 1, dtype=np.int64),
        "company_name": categorical(names, rng.integers(0, len(names), n)),
        "industry": categorical(ja.INDUSTRIES, rng.integers(0, len(ja.INDUSTRIES), n)),
        "employees_band": categorical(ja.EMPLOYEE_BANDS, rng.choice(4, size=n, p=[0.35, 0.35, 0.2, 0.1])),
        "prefecture": categorical([p for p, _ in ja.PREFECTURES], rng.choice(47, size=n, p=pref / pref.sum())),
    })


def make_reps(rng: np.random.Generator, scale: Scale) -> tuple[pd.DataFrame, np.ndarray]:
    """Returns the reps table and each rep's hidden skill (log-odds)."""
    n = scale.reps
    given = ja.GIVEN_FEMALE + ja.GIVEN_MALE
    hired = np.datetime64("2015-04-01", "D") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    frame = pd.DataFrame({
        "rep_id": np.arange(1, n + 1, dtype=np.int64),
        "name": categorical(combine(ja.SURNAMES, given, " "), rng.integers(0, len(ja.SURNAMES) * len(given), n)),
        "team": categorical(ja.SALES_TEAMS, rng.integers(0, len(ja.SALES_TEAMS), n)),
        "hired_at": hired.astype("datetime64[us]"),
    })
    return frame, rng.normal(0.0, sig.CALL_REP_SD, n)


def _pick(rng: np.random.Generator, options: list[str], n: int, speaker: str) -> np.ndarray:
    texts = np.array([speaker + o for o in options], dtype=object)
    return texts[rng.integers(0, len(options), n)]


def make_calls(
    rng: np.random.Generator, scale: Scale, accounts: pd.DataFrame, rep_skill: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns the calls (with outcome) and which planted phrase each call contains."""
    n = scale.calls
    account = rng.choice(len(accounts), size=n, p=zipf_weights(rng, len(accounts), 0.6))
    owner_rep = rng.integers(0, len(rep_skill), len(accounts))  # each account has a main rep
    rep = np.where(rng.random(n) < 0.85, owner_rep[account], rng.integers(0, len(rep_skill), n))
    business_days = np.flatnonzero(tl.weekday(np.arange(tl.DAYS)) < 5)
    day = np.sort(rng.choice(business_days, size=n))
    called = tl.stamp(day, rng.choice(24, size=n, p=CALL_HOURS / CALL_HOURS.sum()), rng)
    called = np.sort(called)

    phrases = sig.CALL_PHRASES
    present = rng.random((n, len(phrases))) < np.array([p.rate for p in phrases])

    # A transcript: the rep opens and pitches, then customer/rep exchanges in random order (some
    # carrying planted phrases), then goodbyes. Positions order the turns; DuckDB joins them.
    ids = np.arange(n)
    middle = lambda k: 3.0 + rng.random(k) * 5  # noqa: E731

    def exchange(customer: np.ndarray) -> np.ndarray:
        k = len(customer)
        answer = _pick(rng, ja.REP_ACKS, k, "\n" + SALES)
        pitch = np.where(rng.random(k) < 0.4, _pick(rng, ja.REP_PITCHES, k, ""), "")
        return customer + answer + pitch

    parts = [
        (ids, 0.0, _pick(rng, ja.REP_OPENINGS, n, SALES)),
        (ids, 1.0, _pick(rng, ja.CUSTOMER_GREETINGS, n, CUSTOMER)),
        (ids, 2.0, _pick(rng, ja.REP_PITCHES, n, SALES)),
        (ids, middle(n), exchange(_pick(rng, ja.CUSTOMER_FILLERS, n, CUSTOMER))),
        (ids, middle(n), exchange(_pick(rng, ja.CUSTOMER_FILLERS, n, CUSTOMER))),
        (ids, 99.0, _pick(rng, ja.CUSTOMER_CLOSINGS, n, CUSTOMER)
         + _pick(rng, ja.REP_CLOSINGS, n, "\n" + SALES)),
    ]
    for j, phrase in enumerate(phrases):
        who = np.flatnonzero(present[:, j])
        sentence = np.full(len(who), CUSTOMER + phrase.sentence, dtype=object)
        parts.append((who, middle(len(who)), exchange(sentence)))
    turns = pd.DataFrame({
        "call": np.concatenate([p[0] for p in parts]),
        "pos": np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in parts]),
        "text": np.concatenate([np.broadcast_to(np.asarray(p[2], dtype=object), len(p[0])) for p in parts]),
    })
    with duckdb.connect() as con:
        con.register("turns", turns)
        joined = con.sql(
            "SELECT call, string_agg(text, chr(10) ORDER BY pos, text) AS transcript "
            "FROM turns GROUP BY call ORDER BY call"
        ).df()

    n_turns = joined["transcript"].str.count("\n").to_numpy() + 1
    duration = (240 + 75 * n_turns * rng.lognormal(0.0, 0.3, n)).astype(np.int32)
    logit = (
        sig.CALL_BASE_LOGIT
        + rep_skill[rep]
        + present.astype(float) @ np.array([p.effect for p in phrases])
        + sig.CALL_DURATION_EFFECT * (duration - duration.mean()) / 600
    )
    won = rng.random(n) < sigmoid(logit)
    calls = pd.DataFrame({
        "call_id": np.arange(1, n + 1, dtype=np.int64),
        "account_id": account.astype(np.int64) + 1,
        "rep_id": rep.astype(np.int64) + 1,
        "called_at": called,
        "duration_sec": duration,
        "transcript": joined["transcript"].to_numpy(dtype=object),
        "outcome": categorical(["lost", "won"], won.astype(np.int64)),
    })
    return calls, pd.DataFrame(present, columns=[p.keyword for p in phrases])
