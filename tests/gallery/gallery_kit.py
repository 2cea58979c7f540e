"""The gallery tests reuse the hackathon test kit (company copy, sandbox user, events)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hackathon"))

from hackathon_kit import *  # noqa: E402, F403
