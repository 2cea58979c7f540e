"""Push notifications and who opened them. Opens follow the effects planted in `signals.py`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matsuri.warehouse import japanese as ja
from matsuri.warehouse import signals as sig
from matsuri.warehouse import timeline as tl
from matsuri.warehouse.frames import categorical, sigmoid
from matsuri.warehouse.people import Users
from matsuri.warehouse.scales import Scale

# Marketers mostly send in waking hours, sometimes at odd hours (which is how we learn they fail).
SEND_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 5, 6, 5, 5, 5, 5, 5, 6, 6, 6, 6, 4, 2], float)
TITLE_SUFFIXES = ["", "", "をチェック", "｜詳しくはアプリで確認してください"]
NAME_PREFIX = "{name}さん、"
NEW_USER_DAYS = 30
DORMANT_SHARE = 0.3  # the least active 30 % of users form the "dormant" segment


def make_pushes(rng: np.random.Generator, scale: Scale) -> pd.DataFrame:
    n = scale.pushes
    day = np.sort(rng.integers(0, tl.DAYS, n))
    hour = rng.choice(24, size=n, p=SEND_HOURS / SEND_HOURS.sum())
    sent = tl.stamp(day, hour, rng)
    order = np.argsort(sent, kind="stable")
    sent, hour = sent[order], hour[order]
    category = rng.integers(0, len(sig.PUSH_CATEGORIES), n)
    segment = rng.choice(len(sig.PUSH_SEGMENTS), size=n, p=[0.4, 0.2, 0.2, 0.2])
    personalized = rng.random(n) < 0.35
    emoji = np.where(rng.random(n) < 0.4, rng.integers(0, len(ja.PUSH_EMOJI), n), -1)
    stem = rng.integers(0, 5, n)
    suffix = rng.integers(0, len(TITLE_SUFFIXES), n)
    titles = [
        (NAME_PREFIX if p else "")
        + ja.PUSH_TITLES[sig.PUSH_CATEGORIES[c]][s]
        + TITLE_SUFFIXES[x]
        + (ja.PUSH_EMOJI[e] if e >= 0 else "")
        for p, c, s, x, e in zip(personalized, category, stem, suffix, emoji, strict=True)
    ]  # one per push (hundreds), not per delivery
    return pd.DataFrame({
        "push_id": np.arange(1, n + 1, dtype=np.int64),
        "sent_at": sent,
        "category": categorical(sig.PUSH_CATEGORIES, category),
        "target_segment": categorical(sig.PUSH_SEGMENTS, segment),
        "title": titles,
        "body": [ja.PUSH_BODIES[sig.PUSH_CATEGORIES[c]] for c in category],
        "personalized": personalized,
    })


def visible_length(title: pd.Series) -> np.ndarray:
    """Characters of the title a reader sees, not counting the name placeholder."""
    return title.str.replace(NAME_PREFIX, "", regex=False).str.len().to_numpy()


def open_logit(pushes: pd.DataFrame) -> np.ndarray:
    """Per-push part of the log-odds of an open (send hour, weekday, category x segment, title)."""
    sent = pushes["sent_at"].to_numpy()
    hour = ((sent - tl.START) // np.timedelta64(1, "h")) % 24
    weekend = tl.weekday(tl.day_of(sent)) >= 5
    cat = pushes["category"].cat.codes.to_numpy()
    seg = pushes["target_segment"].cat.codes.to_numpy()
    has_emoji = pushes["title"].str.contains("|".join(ja.PUSH_EMOJI), regex=True).to_numpy()
    too_long = np.maximum(visible_length(pushes["title"]) - sig.PUSH_TITLE_LENGTH_FREE, 0)
    return (
        sig.PUSH_BASE_LOGIT
        + sig.PUSH_HOUR_EFFECT[hour]
        + sig.PUSH_WEEKEND_EFFECT * weekend
        + sig.PUSH_CATEGORY_SEGMENT[cat, seg]
        + sig.PUSH_EMOJI_EFFECT * has_emoji
        + sig.PUSH_PERSONALIZED_EFFECT * pushes["personalized"].to_numpy()
        + sig.PUSH_TITLE_LENGTH_EFFECT * too_long
    )


def make_deliveries(
    rng: np.random.Generator, scale: Scale, users: Users, pushes: pd.DataFrame
) -> pd.DataFrame:
    """Each push reaches a sample of its target segment among users active at send time."""
    sent_us = (pushes["sent_at"].to_numpy() - tl.START).astype(np.int64)
    seg = pushes["target_segment"].cat.codes.to_numpy()
    dormant = users.activity <= np.quantile(users.activity, DORMANT_SHARE)
    segment_mask = {0: None, 2: users.premium, 3: dormant}
    push_index, user_index = [], []
    for p in range(len(pushes)):  # one pass per push (hundreds), vectorised over users
        alive = (users.signup_us < sent_us[p]) & (users.end_us > sent_us[p])
        if seg[p] == 1:
            alive &= sent_us[p] - users.signup_us < NEW_USER_DAYS * tl.US_PER_DAY
        elif segment_mask.get(seg[p]) is not None:
            alive &= segment_mask[seg[p]]
        eligible = np.flatnonzero(alive)
        chosen = rng.choice(eligible, size=min(len(eligible), scale.deliveries_per_push), replace=False)
        push_index.append(np.full(len(chosen), p))
        user_index.append(np.sort(chosen))
    p_idx = np.concatenate(push_index)
    u_idx = np.concatenate(user_index)

    logit = open_logit(pushes)[p_idx] + sig.PUSH_USER_SD * users.push_habit[u_idx]
    opened = rng.random(len(p_idx)) < sigmoid(logit)
    delivered = pushes["sent_at"].to_numpy()[p_idx] + rng.integers(1, 60, len(p_idx)).astype(
        "timedelta64[s]"
    )
    delay = np.minimum(rng.exponential(900.0, len(p_idx)), 48 * 3600).astype(np.int64) + 1
    opened_at = np.where(opened, delivered + delay.astype("timedelta64[s]"), np.datetime64("NaT"))
    return pd.DataFrame({
        "delivery_id": np.arange(1, len(p_idx) + 1, dtype=np.int64),
        "push_id": p_idx.astype(np.int64) + 1,
        "user_id": u_idx.astype(np.int64) + 1,
        "delivered_at": delivered.astype("datetime64[us]"),
        "opened_at": opened_at.astype("datetime64[us]"),
    })
