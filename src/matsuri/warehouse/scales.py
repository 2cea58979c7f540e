"""How big the synthetic company is at each scale. A registry: unknown names list the valid ones."""

from __future__ import annotations

from dataclasses import dataclass

from matsuri.errors import UsageError


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    events: int             # approximate total app events
    pushes: int
    deliveries_per_push: int  # at most this many users receive one push
    products: int
    buyer_share: float      # share of users who ever order
    accounts: int
    reps: int
    calls: int


SCALES = {
    s.name: s
    for s in (
        Scale("tiny", 2_000, 40_000, 80, 400, 60, 0.5, 150, 8, 800),
        Scale("small", 50_000, 1_000_000, 240, 2_500, 300, 0.4, 1_500, 30, 4_000),
        Scale("large", 1_000_000, 20_000_000, 400, 12_000, 2_000, 0.35, 20_000, 200, 30_000),
    )
}


def get_scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        valid = ", ".join(SCALES)
        raise UsageError(f"Unknown scale '{name}'. Choose one of: {valid}.") from None
