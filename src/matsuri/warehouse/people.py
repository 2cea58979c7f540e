"""App users and their events: signups with growth and TV-ad spikes, churn, weekly rhythm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri.warehouse import japanese as ja
from matsuri.warehouse import timeline as tl
from matsuri.warehouse.frames import categorical, combine
from matsuri.warehouse.scales import Scale

AGE_BANDS = ["10s", "20s", "30s", "40s", "50s", "60s+"]
GENDERS = ["female", "male", "other"]
PLANS = ["free", "premium"]
CHANNELS = ["organic", "search_ad", "sns_ad", "referral", "tv_cm"]
EVENT_TYPES = ["app_open", "log_meal", "log_weight", "workout", "view_article", "view_product"]
EVENT_MIX = np.array([0.38, 0.2, 0.1, 0.12, 0.1, 0.1])
TV_CM_WEEKS = (60, 200, 300)  # day indices when a TV campaign starts (lasts 7 days)
EVENT_FADE = 1.6  # events fade over a user's life: offset = u ** EVENT_FADE of the span (u uniform)


@dataclass
class Users:
    """The users table plus hidden traits that later tables depend on."""

    frame: pd.DataFrame
    signup_us: np.ndarray   # int64 microseconds since START
    end_us: np.ndarray      # churn time, or END for users still active
    activity: np.ndarray    # relative app activity
    push_habit: np.ndarray  # standard-normal tendency to open pushes
    premium: np.ndarray


def make_users(rng: np.random.Generator, scale: Scale) -> Users:
    n = scale.users
    days = np.arange(tl.DAYS)
    tv = np.zeros(tl.DAYS, dtype=bool)
    for start in TV_CM_WEEKS:
        tv[start : start + 7] = True
    weights = (1 + days / tl.DAYS) * np.where(tl.weekday(days) >= 5, 1.3, 1.0) * np.where(tv, 4.0, 1.0)
    day = rng.choice(tl.DAYS, size=n, p=weights / weights.sum())
    signup = tl.stamp(day, tl.draw_hours(rng, n), rng)

    age = rng.choice(len(AGE_BANDS), size=n, p=[0.06, 0.24, 0.26, 0.21, 0.14, 0.09])
    gender = rng.choice(3, size=n, p=[0.55, 0.43, 0.02])
    pref_weights = np.array([w for _, w in ja.PREFECTURES], dtype=float)
    prefecture = rng.choice(len(pref_weights), size=n, p=pref_weights / pref_weights.sum())
    in_tv = tv[day]
    channel_p = np.where(in_tv[:, None], [0.2, 0.1, 0.1, 0.05, 0.55], [0.38, 0.22, 0.22, 0.12, 0.06])
    channel = (rng.random(n)[:, None] > np.cumsum(channel_p, axis=1)).sum(axis=1)
    premium = rng.random(n) < 0.1 + 0.04 * age + 0.08 * (channel == 3)

    activity = rng.lognormal(0.0, 0.8, size=n) * np.where(premium, 1.5, 1.0)
    mean_life = 120.0 * np.where(premium, 2.0, 1.0) * np.select(
        [channel == 2, channel == 3], [0.6, 1.3], 1.0
    ) * np.sqrt(activity)
    life_us = (rng.exponential(mean_life) * 86_400).astype(np.int64) * 1_000_000  # whole seconds
    signup_us = (signup - tl.START).astype(np.int64)
    churn_us = signup_us + life_us
    horizon = int((tl.END - tl.START).astype(np.int64))
    churned = churn_us < horizon
    end_us = np.where(churned, churn_us, horizon)

    given = [ja.GIVEN_FEMALE, ja.GIVEN_MALE, ja.GIVEN_OTHER]
    names = [combine(ja.SURNAMES, g, " ") for g in given]
    categories = names[0] + names[1] + names[2]
    offsets = np.cumsum([0] + [len(x) for x in names[:-1]])
    sizes = np.array([len(g) for g in given])
    name_code = (
        offsets[gender]
        + rng.integers(0, len(ja.SURNAMES), n) * sizes[gender]
        + (rng.random(n) * sizes[gender]).astype(np.int64)
    )

    frame = pd.DataFrame({
        "user_id": np.arange(1, n + 1, dtype=np.int64),
        "name": categorical(categories, name_code),
        "signup_at": signup,
        "age_band": categorical(AGE_BANDS, age),
        "gender": categorical(GENDERS, gender),
        "prefecture": categorical([p for p, _ in ja.PREFECTURES], prefecture),
        "plan": categorical(PLANS, premium.astype(np.int64)),
        "channel": categorical(CHANNELS, channel),
        "churned_at": np.where(churned, tl.START + churn_us.astype("timedelta64[us]"), np.datetime64("NaT")),
    })
    habit = rng.normal(0.0, 1.0, size=n) + 0.3 * np.log(activity)
    return Users(frame, signup_us, end_us, activity, habit, premium)


def make_events(rng: np.random.Generator, scale: Scale, users: Users) -> pd.DataFrame:
    """App events: more for active users, fading over each user's life, busier at weekends."""
    span_days = (users.end_us - users.signup_us) / tl.US_PER_DAY
    expected = users.activity * span_days
    accept_rate = tl.WEEKDAY_ACTIVITY.mean() / tl.WEEKDAY_ACTIVITY.max()
    extra = max(scale.events - scale.users, 0)
    counts = rng.poisson(expected * extra / expected.sum() / accept_rate)
    owner = np.repeat(np.arange(len(counts)), counts)
    # Engagement fades: most events come early in a user's life.
    offset = (rng.random(len(owner)) ** EVENT_FADE * (users.end_us - users.signup_us)[owner]).astype(np.int64)
    when = users.signup_us[owner] + offset
    day = when // tl.US_PER_DAY
    keep = rng.random(len(owner)) < tl.WEEKDAY_ACTIVITY[tl.weekday(day)] / tl.WEEKDAY_ACTIVITY.max()
    owner, day = owner[keep], day[keep]
    hour = tl.draw_hours(rng, len(owner))
    at = day * tl.US_PER_DAY + hour * tl.US_PER_HOUR + rng.integers(0, 3600, len(owner)) * 1_000_000
    at = np.clip(at, users.signup_us[owner], users.end_us[owner] - 1_000_000)
    kind = rng.choice(len(EVENT_TYPES), size=len(owner), p=EVENT_MIX)
    # Every user opens the app when signing up.
    n_users = len(users.signup_us)
    owner = np.concatenate([np.arange(n_users), owner])
    at = np.concatenate([users.signup_us, at])
    kind = np.concatenate([np.zeros(n_users, dtype=kind.dtype), kind])
    order = np.lexsort((owner, at))  # event ids count in time order
    owner, at, kind = owner[order], at[order], kind[order]
    event_id = np.arange(1, len(owner) + 1, dtype=np.int64)
    # Rows are stored grouped by user (the table's sort key, as a warehouse clusters it): per-user
    # questions (DAU, funnels, retention) then read each user's rows together, twice as fast at large.
    by_user = np.argsort(owner, kind="stable")
    owner, at, kind, event_id = owner[by_user], at[by_user], kind[by_user], event_id[by_user]
    return pd.DataFrame({
        "event_id": event_id,
        "user_id": owner.astype(np.int64) + 1,
        "event_at": tl.START + at.astype("timedelta64[us]"),
        "event_type": categorical(EVENT_TYPES, kind),
    })
