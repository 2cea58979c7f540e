"""The month after the year: which users active at the cutoff stop using the app (`churn` theme).

The learners' warehouse ends at the cutoff, the end of the fiscal year, so nothing in it can tell
what happened next. The month after is generated here, from each user's behaviour before the cutoff
(the drivers planted in `signals.py`) and hidden traits, and only its outcome is kept: churned or
not. No existing table changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri.warehouse import people
from matsuri.warehouse import signals as sig
from matsuri.warehouse import timeline as tl
from matsuri.warehouse.frames import sigmoid
from matsuri.warehouse.people import Users
from matsuri.warehouse.scales import Scale

CUTOFF = tl.END                 # 2026-04-01 00:00: the learners' data ends here
ACTIVE_DAYS = 28                # active: at least one app event in the 28 days before the cutoff
WINDOW_DAYS = 30                # churned: no app event in the 30 days after it
RECENT_DAYS = 14                # "recent" activity: the last two weeks ...
EARLIER_DAYS = 42               # ... against the six weeks before them
PUSH_DAYS = 28                  # pushes received in the last four weeks


@dataclass
class Behaviour:
    """What each active user did before the cutoff (index i is user_id i + 1)."""

    users: np.ndarray    # indices of the active users
    recent: np.ndarray   # app events in the last 14 days
    earlier: np.ndarray  # app events in the 42 days before those
    pushes: np.ndarray   # push deliveries in the last 28 days
    opener: np.ndarray   # opened at least one push in push_deliveries (what learners can see)

    @property
    def fall(self) -> np.ndarray:
        """Halvings of two-weekly activity (0 when steady or rising), counted up to CHURN_FALL_MAX."""
        ratio = (self.earlier / (EARLIER_DAYS / RECENT_DAYS) + 1) / (self.recent + 1)
        return np.clip(np.log2(ratio), 0.0, sig.CHURN_FALL_MAX)


def _days_before(at: np.ndarray, days: int) -> np.ndarray:
    return (at >= CUTOFF - np.timedelta64(days, "D")) & (at < CUTOFF)


def behaviour(users: Users, events: pd.DataFrame, deliveries: pd.DataFrame,
              seen_deliveries: pd.DataFrame) -> Behaviour:
    """`deliveries`: every push delivery; `seen_deliveries`: those whose opens learners see."""
    n = len(users.signup_us)
    owner = events["user_id"].to_numpy() - 1
    at = events["event_at"].to_numpy()
    last = _days_before(at, RECENT_DAYS + EARLIER_DAYS)
    owner, at = owner[last], at[last]
    recent_mask = _days_before(at, RECENT_DAYS)
    recent = np.bincount(owner[recent_mask], minlength=n)
    earlier = np.bincount(owner[~recent_mask], minlength=n)
    in_month = np.bincount(owner[_days_before(at, ACTIVE_DAYS)], minlength=n)
    still_there = users.frame["churned_at"].isna().to_numpy()
    active = np.flatnonzero((in_month > 0) & still_there)
    got = _days_before(deliveries["delivered_at"].to_numpy(), PUSH_DAYS)
    pushes = np.bincount(deliveries["user_id"].to_numpy()[got] - 1, minlength=n)
    opened = seen_deliveries["opened_at"].notna().to_numpy()
    opener = np.bincount(seen_deliveries["user_id"].to_numpy()[opened] - 1, minlength=n) > 0
    return Behaviour(active, recent[active], earlier[active], pushes[active], opener[active])


def daily_rate_at_end(scale: Scale, users: Users) -> np.ndarray:
    """Each user's expected app events per day at the end of the year, as `make_events` draws them.

    Events spread over a user's span with density ∝ x^(1/fade − 1) (x = share of the span), so the
    rate at the end of the span is 1/fade of the user's average rate over it.
    """
    span_days = (users.end_us - users.signup_us) / tl.US_PER_DAY
    expected = users.activity * span_days
    per_activity_day = max(scale.events - scale.users, 0) / expected.sum()
    return users.activity * per_activity_day / people.EVENT_FADE


def quit_logit(users: Users, seen: Behaviour) -> np.ndarray:
    """The planted part of a user's log-odds of quitting at the cutoff (without the hidden noise)."""
    return (
        sig.CHURN_BASE_LOGIT
        + sig.CHURN_FALL_EFFECT * seen.fall
        + sig.CHURN_PUSH_EFFECT * seen.pushes * ~seen.opener
        + sig.CHURN_PREMIUM_EFFECT * users.premium[seen.users]
    )


def make_outcomes(
    rng: np.random.Generator, scale: Scale, users: Users, events: pd.DataFrame, deliveries: pd.DataFrame,
    seen_deliveries: pd.DataFrame,
) -> pd.DataFrame:
    """One row per active user: user_id and churned (no app event in the 30 days after the cutoff)."""
    seen = behaviour(users, events, deliveries, seen_deliveries)
    n = len(seen.users)
    logit = quit_logit(users, seen) + rng.normal(0.0, sig.CHURN_USER_SD, n)
    quits = rng.random(n) < sigmoid(logit)
    # Those who stay keep their own pace; a light user can still go a whole month without an event.
    expected = daily_rate_at_end(scale, users)[seen.users] * WINDOW_DAYS
    quiet = rng.poisson(expected) == 0
    return pd.DataFrame({"user_id": seen.users.astype(np.int64) + 1, "churned": quits | quiet})
