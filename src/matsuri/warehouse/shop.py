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
    n_orders = np.minimum(1 + rng.geometric(0.3, len(buyers)), MAX_ORDERS)
    owner = np.repeat(buyers, n_orders)
    span = users.end_us[owner] - users.signup_us[owner]
    at = users.signup_us[owner] + (rng.random(len(owner)) * span / 1e6).astype(np.int64) * 1_000_000
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
    item_order = np.concatenate([np.arange(len(owner)), extra_order])
    item_product = np.concatenate([main, rng.choice(n_products, size=len(extra_order), p=popularity)])
    sort = np.argsort(item_order, kind="stable")
    item_order, item_product = item_order[sort], item_product[sort]
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
