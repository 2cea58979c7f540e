"""Does a team's fresh workspace, copied from the real template, submit and score end to end?

`matsuri hackathon new` copies templates/<theme>/; its starter notebook then runs confined under
papermill with only the runner's parameters (warehouse, output_dir) and is scored on the labels.
"""

from __future__ import annotations

import pytest

from matsuri import paths
from matsuri.hackathon.submissions import submit
from matsuri.hackathon.teams import add_team, new_workspace

BETTER_THAN_CHANCE = {"push-open-rate": ("roc_auc", 0.55), "call-keywords": ("roc_auc", 0.6),
                      "product-ordering": ("ndcg@10", 0.2)}


@pytest.mark.parametrize("theme", list(BETTER_THAN_CHANCE))
def test_the_template_starter_is_accepted_and_beats_chance(theme, make_event, sandbox_user):
    """Is each theme's starter, run as a submission, scored on both parts above chance?"""
    event = make_event(timeout=600)
    add_team(event, "team", ["Aki"])
    workspace = new_workspace(event, "team", theme, paths.project_root() / "templates").workspace
    result = submit(event, "team", workspace / "starter.ipynb")
    metric, floor = BETTER_THAN_CHANCE[theme]
    assert result.status == "scored", result.message
    assert result.public[metric] > floor and result.private[metric] > floor
    if theme == "call-keywords":
        assert result.public["keyword_hits"] >= 5  # the starter writes keywords.csv too
