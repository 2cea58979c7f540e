"""The online shop: a long-tailed catalogue, and orders where one product tends to follow another."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matsuri.warehouse import japanese as ja
from matsuri.warehouse import signals as sig
from matsuri.warehouse import timeline as tl
from matsuri.warehouse.frames import zipf_weights
from matsuri.warehouse.people import Users
from matsuri.warehouse.scales import Scale

CATEGORY_SHARE = {"supplement": 0.3, "healthy_food": 0.3, "fitness_gear": 0.2, "wearable": 0.1,
                  "book": 0.1}
MAX_ORDERS = 15
# People shop in the evening and at lunch more than at night.
SHOP_HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1, 1.2, 1.3, 1.4, 1.6,
                       2.2, 1.8, 1.4, 1.3, 1.3, 1.5, 1.8, 2.2, 2.6, 2.6, 2.2, 1.6])


def make_products(rng: np.random.Generator, scale: Scale) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Returns the products table, each product's popularity, and its planted successor (-1: none)."""
    n = scale.products
    cats = list(CATEGORY_SHARE)
    category = rng.choice(len(cats), size=n, p=list(CATEGORY_SHARE.values()))
    names, prices = [], np.empty(n)
    for c, cat in enumerate(cats):  # one pass per category
        stems, variants, median = ja.PRODUCT_LINES[cat]
        idx = np.flatnonzero(category == c)
        stem = rng.integers(0, len(stems), len(idx))
        variant = rng.integers(0, len(variants), len(idx))
        prices[idx] = median * rng.lognormal(0.0, 0.35, len(idx))
        names.append(pd.Series([f"{stems[s]} {variants[v]}" for s, v in zip(stem, variant, strict=True)],
                               index=idx))
    name = pd.concat(names).sort_index()
    repeat = name.groupby(name).cumcount()
    name = name.where(repeat == 0, name + " No." + (repeat + 1).astype(str))
    price = (np.maximum(np.round(prices / 100), 2) * 100 - 20).astype(np.int32)  # ¥2,980 style
    launched = tl.START - rng.integers(0, 3 * 365, n).astype("timedelta64[D]")

    popularity = zipf_weights(rng, n, sig.ZIPF_EXPONENT)
    successor = np.full(n, -1)
    has_next = rng.random(n) < sig.SUCCESSOR_SHARE
    for c in range(len(cats)):  # successors stay in the same category, drawn uniformly (not by fame)
        members = np.flatnonzero(category == c)
        pick = members[has_next[members]]
        if len(members) > 1:
            choice = rng.choice(members, size=len(pick))
            clash = choice == pick
            choice[clash] = members[(np.searchsorted(members, pick[clash]) + 1) % len(members)]
            successor[pick] = choice
    frame = pd.DataFrame({
        "product_id": np.arange(1, n + 1, dtype=np.int64),
        "name": name.to_numpy(dtype=object),
        "category": pd.Categorical.from_codes(category, categories=cats),
        "price": price,
        "launched_at": launched.astype("datetime64[us]"),
    })
    return frame, popularity, successor


def make_orders(
    rng: np.random.Generator, scale: Scale, users: Users, products: pd.DataFrame,
    popularity: np.ndarray, successor: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_users = len(users.signup_us)
    buy_p = scale.buyer_share * np.where(users.premium, 1.6, 0.9)
    buyers = np.flatnonzero(rng.random(n_users) < buy_p)
    # Buyers who stay longer order more: about one order every 45 days of their life, at least one.
    life_days = (users.end_us[buyers] - users.signup_us[buyers]) / tl.US_PER_DAY
    n_orders = np.minimum(1 + rng.poisson(life_days / 45), MAX_ORDERS)
    owner = np.repeat(buyers, n_orders)
    span_days = (users.end_us[owner] - users.signup_us[owner]) // tl.US_PER_DAY
    day = users.signup_us[owner] // tl.US_PER_DAY + (rng.random(len(owner)) * (span_days + 1)).astype(np.int64)
    at = day * tl.US_PER_DAY + (tl.draw_hours(rng, len(owner), SHOP_HOURS) * 3600
                                + rng.integers(0, 3600, len(owner))) * 1_000_000
    at = np.clip(at, users.signup_us[owner], users.end_us[owner] - 1_000_000)
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]
    first = np.r_[True, owner[1:] != owner[:-1]]
    rank = np.arange(len(owner)) - np.maximum.accumulate(np.where(first, np.arange(len(owner)), 0))

    n_products = len(popularity)
    main = rng.choice(n_products, size=len(owner), p=popularity)
    follow = rng.random(len(owner)) < sig.FOLLOW_PROBABILITY
    for k in range(1, int(rank.max()) + 1):  # one pass per order rank: each follows the previous
        idx = np.flatnonzero(rank == k)
        nxt = successor[main[idx - 1]]
        take = follow[idx] & (nxt >= 0)
        main[idx[take]] = nxt[take]

    extras = rng.choice([0, 1, 2], size=len(owner), p=[0.55, 0.3, 0.15])
    extra_order = np.repeat(np.arange(len(owner)), extras)
    lines = pd.DataFrame({
        "order": np.concatenate([np.arange(len(owner)), extra_order]),
        "product": np.concatenate([main, rng.choice(n_products, size=len(extra_order), p=popularity)]),
    })
    # One line per product in an order; the main item keeps line 1.
    lines = lines.drop_duplicates(ignore_index=True).sort_values("order", kind="stable", ignore_index=True)
    item_order, item_product = lines["order"].to_numpy(), lines["product"].to_numpy()
    line_first = np.r_[True, item_order[1:] != item_order[:-1]]
    line_no = np.arange(len(item_order)) - np.maximum.accumulate(
        np.where(line_first, np.arange(len(item_order)), 0)
    ) + 1
    quantity = rng.choice([1, 2, 3], size=len(item_order), p=[0.8, 0.15, 0.05]).astype(np.int32)
    unit_price = products["price"].to_numpy()[item_product]
    totals = np.bincount(item_order, weights=quantity * unit_price, minlength=len(owner))

    # Order ids follow time, as a real shop numbers them.
    by_time = np.argsort(at, kind="stable")
    order_id = np.empty(len(owner), dtype=np.int64)
    order_id[by_time] = np.arange(1, len(owner) + 1)
    orders = pd.DataFrame({
        "order_id": order_id[by_time],
        "user_id": owner[by_time].astype(np.int64) + 1,
        "ordered_at": tl.START + at[by_time].astype("timedelta64[us]"),
        "total_yen": totals[by_time].astype(np.int64),
    })
    items = pd.DataFrame({
        "order_id": order_id[item_order],
        "line_no": line_no.astype(np.int32),
        "product_id": item_product.astype(np.int64) + 1,
        "quantity": quantity,
        "unit_price": unit_price.astype(np.int32),
    }).sort_values(["order_id", "line_no"], ignore_index=True)
    return orders, items
