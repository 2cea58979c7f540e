"""product-ordering: which products to show each user, in what order.

The baseline shows everyone the best sellers. The ML baseline learns "what people buy next": for
each product, which products its buyers ordered in their following order, and recommends what
tends to follow the user's latest purchases (then best sellers to fill the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matsuri import theme_spec
from matsuri.errors import UsageError
from matsuri.templates import extras, loaded
from matsuri.templates.contract import ThemeTables

NEEDS = ThemeTables(__name__)  # the tables and columns it reads: the theme's data contract

LOAD_SQL = """\
-- Every product ever bought: who bought it, in which order, when (one row per order line).
SELECT o.user_id, o.order_id, o.ordered_at, i.product_id
FROM orders o
JOIN order_items i USING (order_id)
ORDER BY o.user_id, o.ordered_at, o.order_id
"""
# What LOAD_SQL returns: the model reads these by name. A column added to the query (in the
# starter's SQL cell) becomes signals the model learns from too (extra_columns, signals).
COLUMNS = ["user_id", "order_id", "ordered_at", "product_id"]
SIGNALS = {  # how an added column becomes signals, for learners (Japanese, English)
    "number": ("4 分位のどれに入るか", "which quarter of its range"),
    "category": ("値ごとに 1 つのシグナル", "one signal per value"),
    "text": ("単語ごとに 1 つのシグナル", "one signal per word"),
    "time": ("時・曜日・月", "its hour, weekday and month"),
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PRODUCTS_SQL = "SELECT product_id, name, category FROM products ORDER BY product_id"
USERS_SQL = "SELECT user_id, cutoff_at FROM holdout_ordering_users ORDER BY user_id"


def list_length() -> int:
    """How many products each user's list may hold: the k of the spec that names this module."""
    return next(f.k for f in theme_spec.for_library(__name__).files if f.kind == "ranking")


def history_before(purchases: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Purchases of these users made before each user's own cutoff."""
    mine = purchases.merge(users[["user_id", "cutoff_at"]], on="user_id")
    return mine[mine["ordered_at"] < mine["cutoff_at"]].drop(columns="cutoff_at")


@dataclass
class Validation:
    history: pd.DataFrame   # everything bought before the validation cutoff (what a model may use)
    users: pd.DataFrame     # user_id, cutoff_at: whom to recommend for
    truth: pd.DataFrame     # user_id, product_id: what they bought in the following window
    cutoff: pd.Timestamp


def validation_split(purchases: pd.DataFrame, holdout_users: pd.DataFrame, window_days: int = 28,
                     min_users: int = 20) -> Validation:
    """Mirror the holdout on users who are not in it: what did they buy after the same cutoff?

    If too few people bought after the holdout cutoff, we step back one window in time. A holdout
    that cannot be predicted (no users, a user twice, no cutoff) stops here, before any training;
    orders without a customer (guest orders) are said, and count only for best sellers.
    """
    check_holdout(holdout_users)
    guests(purchases)
    cutoff = pd.Timestamp(holdout_users["cutoff_at"].min())
    window = pd.Timedelta(days=window_days)
    others = purchases[~purchases["user_id"].isin(holdout_users["user_id"]) & purchases["user_id"].notna()]
    most = 0
    for cut in (cutoff, cutoff - window):
        before = others[others["ordered_at"] < cut]
        after = others[(others["ordered_at"] >= cut) & (others["ordered_at"] < cut + window)]
        users = np.intersect1d(before["user_id"].unique(), after["user_id"].unique())
        most = max(most, len(users))
        if len(users) >= min_users:
            truth = after[after["user_id"].isin(users)][["user_id", "product_id"]].drop_duplicates()
            return Validation(
                purchases[purchases["ordered_at"] < cut],
                pd.DataFrame({"user_id": users, "cutoff_at": cut}),
                truth.reset_index(drop=True),
                cut,
            )
    raise UsageError(
        f"Too few users ordered both before and after {cutoff:%Y-%m-%d} to validate on: {most} customers "
        f"(outside holdout_ordering_users; {min_users} needed) ordered before that day and within the "
        f"window_days = {window_days} days after it (or one window earlier). Raise window_days in the "
        f"parameters cell (for example window_days = {window_days * 2}), or export a longer period of "
        "orders.",
        ja=f"{cutoff:%Y-%m-%d} の前と後の両方で注文したユーザーが少なすぎて、検証ができません。"
           f"holdout_ordering_users 以外のお客様で、その日より前と、その後 window_days = {window_days} 日以内の"
           f"両方に注文した人が {most} 人しかいません（{min_users} 人必要。1 期間前でも同じ）。パラメータのセルで window_days を"
           f"大きくするか（例: window_days = {window_days * 2}）、より長い期間の注文を書き出してください。"
    )


def check_holdout(holdout_users: pd.DataFrame) -> None:
    """The users to rank for (USERS_SQL): some, each once, each with a cutoff_at."""
    spec = theme_spec.for_library(__name__)
    loaded.check_holdout(holdout_users["user_id"], spec.holdout_table, spec.id_column)
    missing = int(holdout_users["cutoff_at"].isna().sum())
    if missing:
        raise UsageError(
            f"The holdout table {spec.holdout_table} has {missing:,} users without a cutoff_at (NULL): "
            "each user needs the moment to recommend from. Fix the export and run again.",
            ja=f"ホールドアウトの表 {spec.holdout_table} に cutoff_at が空（NULL）のユーザーが {missing:,} 人います。"
               "おすすめを出す時点が、ユーザーごとに必要です。書き出しを直して、もう一度実行してください。")


def guests(purchases: pd.DataFrame) -> int:
    """How many order lines have no customer (user_id NULL: guest orders); says so when some do.
    They count among the best sellers (each guest order as one shopper), and are nobody's history."""
    count = int(loaded.without_customer(purchases["user_id"]).sum())
    if count:
        orders = purchases.loc[purchases["user_id"].isna(), "order_id"].nunique()
        loaded.say(
            f"{count:,} order lines ({orders:,} orders) have no user_id (guest orders): they count "
            "for the best sellers, but belong to no customer's history, so no list learns from them.",
            f"{count:,} 件の注文明細（{orders:,} 件の注文）に user_id がありません（ゲスト注文）。売れ筋には数えますが、"
            "どのお客様の履歴にも入らないので、おすすめの学習には使いません。")
    return count


def _shoppers(purchases: pd.DataFrame) -> pd.Series:
    """Who bought each line: the customer, or for a guest order, the order itself."""
    guest = purchases["user_id"].isna()
    if not guest.any():
        return purchases["user_id"]
    return purchases["user_id"].astype(object).where(~guest, "guest order " + purchases["order_id"].astype(str))


def extra_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The columns a participant added to LOAD_SQL, each with its kind (number, category, text, time)."""
    return extras.found(frame, COLUMNS, needed=COLUMNS, taken=["cutoff_at"])


def quarter_edges(purchases: pd.DataFrame, extra: Mapping[str, str]) -> dict[str, list[float]]:
    """Where each added number's quarters start (from the purchases a model learns from)."""
    return {c: np.nanquantile(purchases[c].astype(float), [0.25, 0.5, 0.75]).tolist()
            for c, kind in extra.items() if kind == "number"}


def signals(lines: pd.DataFrame, extra: Mapping[str, str], edges: Mapping[str, list[float]]) -> pd.DataFrame:
    """order_id, signal: what the added columns say about each order, as words that "what comes
    next" counts like products: a category's value, a number's quarter, a text's words, a time's
    hour, weekday and month."""
    from matsuri.templates import japanese

    parts = []
    for column, kind in extra.items():
        rows = lines[["order_id", column]].dropna()
        value = rows[column]
        if kind == "number":
            quarter = np.searchsorted(edges[column], value.astype(float), side="right") + 1
            said = [pd.Series([f"{column}: quarter {q} of 4" for q in quarter], index=rows.index)]
        elif kind == "text":
            words = value.astype(str).map(japanese.words).explode().dropna()
            said = [f"{column}: 「" + words + "」"]
        elif kind == "time":
            at = pd.to_datetime(value)
            said = [f"{column}: hour " + at.dt.hour.astype(str),
                    f"{column}: " + at.dt.dayofweek.map(dict(enumerate(WEEKDAYS))),
                    f"{column}: month " + at.dt.month.astype(str)]
        else:
            said = [f"{column} = " + value.astype(str)]
        parts += [pd.DataFrame({"order_id": rows.loc[s.index, "order_id"].to_numpy(), "signal": s.to_numpy()})
                  for s in said]
    empty = pd.DataFrame({"order_id": pd.Series(dtype=lines["order_id"].dtype), "signal": pd.Series(dtype=object)})
    return pd.concat([empty, *parts], ignore_index=True).drop_duplicates(ignore_index=True)


def _follows(steps: pd.DataFrame, marks: pd.DataFrame, lines: pd.DataFrame, key: str, min_pairs: int) -> pd.DataFrame:
    """key, next_product, pairs, share: how often an order marked with `key` (a product, a signal)
    was followed by an order containing next_product, among the marked orders that have a next one."""
    pairs = (steps[["order_id", "next_order"]].merge(marks, on="order_id")
             .merge(lines.rename(columns={"order_id": "next_order", "product_id": "next_product"}),
                    on="next_order"))
    counts = pairs.groupby([key, "next_product"]).size().rename("pairs").reset_index()
    followed = steps.merge(marks, on="order_id").groupby(key).size()  # marked orders with a next one
    counts["share"] = counts["pairs"] / counts[key].map(followed)
    return counts[counts["pairs"] >= min_pairs].reset_index(drop=True)


def _ranked(scores: pd.DataFrame, k: int) -> pd.DataFrame:
    """Keep each user's k best products, numbered 1..k (ties broken by product id)."""
    scores = scores.sort_values(["user_id", "score", "product_id"], ascending=[True, False, True])
    scores = scores.drop_duplicates(["user_id", "product_id"])
    scores["rank"] = scores.groupby("user_id").cumcount() + 1
    return scores[scores["rank"] <= k].reset_index(drop=True)


def _plain(state: dict) -> dict:
    """A fitted model's state with tables as {column: array}: what skops can save (matsuri.handoff)
    without trusting pandas' own classes."""
    out = {}
    for name, value in state.items():
        if isinstance(value, pd.DataFrame):
            out[name] = {"frame": {c: value[c].to_numpy() for c in value.columns}}
        elif isinstance(value, pd.Series):
            out[name] = {"series": {"index": value.index.to_numpy(), "values": value.to_numpy(),
                                    "name": value.name}}
        else:
            out[name] = value
    return out


def _tables(state: dict) -> dict:
    out = {}
    for name, value in state.items():
        if isinstance(value, dict) and "frame" in value:
            out[name] = pd.DataFrame(value["frame"])
        elif isinstance(value, dict) and "series" in value:
            part = value["series"]
            out[name] = pd.Series(part["values"], index=part["index"], name=part["name"])
        else:
            out[name] = value
    return out


class Popularity:
    """The baseline: everyone sees the products the most people have bought."""

    def __getstate__(self) -> dict:
        return _plain(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(_tables(state))

    def fit(self, purchases: pd.DataFrame) -> Popularity:
        shoppers = _shoppers(purchases)  # a guest order counts as one shopper
        buyers = shoppers.groupby(purchases["product_id"]).nunique()
        self.buyers_ = buyers.sort_values(ascending=False, kind="stable")
        self.share_ = self.buyers_ / shoppers.nunique()
        return self

    def recommend(self, users, history: pd.DataFrame | None = None, k: int | None = None) -> pd.DataFrame:
        users, k = np.asarray(pd.Series(users).unique()), k or list_length()
        top = self.buyers_.head(k)
        place = np.arange(1, len(top) + 1)
        return pd.DataFrame({
            "user_id": np.repeat(users, len(top)),
            "product_id": np.tile(top.index.to_numpy(), len(users)),
            "rank": np.tile(place, len(users)),
            "reason": np.tile([f"best seller #{p} ({s:.0%} of shoppers bought it)"
                               for p, s in zip(place, self.share_.head(k), strict=True)], len(users)),
        })


class WhatComesNext:
    """The ML baseline: P(next order contains B | an order contained A), learnt from consecutive
    orders of every user; a user's latest order counts most (`recency` per order further back).

    extra: {column: kind} of columns added to the query (extra_columns). Their values become
    signals ("category = fitness"), learnt the same way (P(next order contains B | an order had
    the signal)) and weighed by `signal_weight` beside the products."""

    def __init__(self, recency: float = 0.1, popularity_weight: float = 0.1, min_pairs: int = 2,
                 extra: Mapping[str, str] | None = None, signal_weight: float = 0.5):
        self.recency, self.popularity_weight, self.min_pairs = recency, popularity_weight, min_pairs
        self.extra, self.signal_weight = dict(extra or {}), signal_weight

    __getstate__, __setstate__ = Popularity.__getstate__, Popularity.__setstate__

    def fit(self, purchases: pd.DataFrame) -> WhatComesNext:
        orders = purchases[["user_id", "order_id", "ordered_at"]].drop_duplicates("order_id")
        orders = orders[orders["user_id"].notna()]  # a guest order has no next one (guests)
        orders = orders.sort_values(["user_id", "ordered_at", "order_id"])
        orders["next_order"] = orders.groupby("user_id")["order_id"].shift(-1)
        steps = orders.dropna(subset=["next_order"]).astype({"next_order": orders["order_id"].dtype})
        lines = purchases[["order_id", "product_id"]].drop_duplicates()
        self.next_ = _follows(steps, lines.rename(columns={"product_id": "product"}), lines, "product",
                              self.min_pairs)
        self.popular_ = Popularity().fit(purchases)
        if self.extra:
            self.edges_ = quarter_edges(purchases, self.extra)
            self.signal_next_ = _follows(steps, signals(purchases, self.extra, self.edges_), lines, "signal",
                                         self.min_pairs)
        return self

    def recommend(self, users, history: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        """Top k (the spec's, unless given) per user with a one-line reason; `history` holds what
        each user bought so far."""
        users, k = np.asarray(pd.Series(users).unique()), k or list_length()
        mine = history[history["user_id"].isin(users)]
        recent = (mine[["user_id", "order_id", "ordered_at"]].drop_duplicates("order_id")
                  .sort_values(["user_id", "ordered_at", "order_id"], ascending=[True, False, False]))
        recent["weight"] = self.recency ** recent.groupby("user_id").cumcount()
        bought = mine[["user_id", "order_id", "product_id"]].merge(recent[["order_id", "weight", "ordered_at"]],
                                                                   on="order_id")
        follow = bought.rename(columns={"product_id": "product"}).merge(self.next_, on="product")
        follow["score"] = follow["weight"] * follow["share"]
        why = ["because_of", "share", "ordered_at", *(["signal"] if self.extra else [])]
        if self.extra:  # what the user's orders said in the added columns, learnt the same way
            said = (signals(mine, self.extra, self.edges_)
                    .merge(recent[["user_id", "order_id", "weight", "ordered_at"]], on="order_id")
                    .merge(self.signal_next_, on="signal"))
            said["score"] = self.signal_weight * said["weight"] * said["share"]
            follow = pd.concat([follow, said], ignore_index=True)
        # the reason for a product is the past purchase (or signal) that contributes most to its score
        best = (follow.sort_values("score", ascending=False).drop_duplicates(["user_id", "next_product"])
                [["user_id", "next_product", "product", *why[1:]]])
        scored = (follow.groupby(["user_id", "next_product"], as_index=False)["score"].sum()
                  .merge(best, on=["user_id", "next_product"])
                  .rename(columns={"next_product": "product_id", "product": "because_of"}))
        fill = self.popular_.recommend(users, k=k)[["user_id", "product_id"]]
        fill["score"] = self.popularity_weight * fill["product_id"].map(self.popular_.share_).to_numpy()
        both = (pd.concat([scored, fill]).groupby(["user_id", "product_id"], as_index=False)
                .agg(score=("score", "sum"), **{c: (c, "first") for c in why}))
        top = _ranked(both, k)
        signal = top["signal"] if self.extra else [None] * len(top)
        top["reason"] = [self._reason(*row) for row in zip(top["product_id"], top["because_of"], top["share"],
                                                           top["ordered_at"], signal, strict=True)]
        return top[["user_id", "product_id", "rank", "reason"]]

    def _reason(self, product, because_of, share, at, signal=None) -> str:
        if isinstance(signal, str):
            return f"your order of {at:%Y-%m-%d} had {signal}; {share:.0%} of such orders were followed by this"
        if pd.notna(because_of):
            return f"you bought 《{_id(because_of)}》 on {at:%Y-%m-%d}; {share:.0%} of its buyers ordered this next"
        place = self.popular_.buyers_.index.get_loc(product) + 1
        return f"best seller #{place} ({self.popular_.share_[product]:.0%} of shoppers bought it)"


def _id(value):
    """A product id as written in a reason: 12 (not 12.0, which a column with gaps makes of it), or as is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def name_products(ranked: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Swap 《product_id》 markers in reasons for product names, and add name/category columns."""
    names = {str(k): v for k, v in products.set_index("product_id")["name"].astype(str).items()}
    ranked = ranked.drop(columns=["name", "category"], errors="ignore")  # a query may add them too
    out = ranked.merge(products[["product_id", "name", "category"]], on="product_id", how="left")
    if "reason" in out:
        out["reason"] = out["reason"].str.replace(
            r"《([^》]+)》", lambda m: f"「{names.get(m.group(1), m.group(1))}」", regex=True
        )
    return out


# --- Hand-off (matsuri.handoff): how a trained model of this theme is served -------------------
HANDOFF = {
    "model": "nxt",
    "baseline": "popular",
    "query": "load_sql",               # the query the starter's SQL cell ran: serving reads history with it
    "extra": "extra",
    "baseline_kind": "naive",
    "baseline_name": {"ja": "全員に売れ筋を表示", "en": "best sellers for everyone"},
    "inputs": ["user_id"],             # a customer; what they bought so far comes from the warehouse
    "time": "last_order_at",
    "label": "",
}


def serving_rows(con, query: str | None = None) -> pd.DataFrame:
    """Every customer a model can rank products for, with the time of their latest order (the
    same whatever the team's query)."""
    from matsuri.templates.tables import read

    return read(con, "SELECT user_id, max(ordered_at) AS last_order_at FROM orders GROUP BY 1 ORDER BY 1")


def serve(model, rows: pd.DataFrame, con, query: str | None = None) -> pd.DataFrame:
    """Each customer's products, ranked from everything they bought so far (read with the team's
    own load query, else LOAD_SQL)."""
    from matsuri.templates.tables import read

    history = read(con, query or LOAD_SQL)
    return model.recommend(rows["user_id"], history)[["user_id", "product_id", "rank"]]
