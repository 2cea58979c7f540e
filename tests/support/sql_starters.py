"""A starter whose SQL cell a participant edited: one column added per theme, as the READMEs show."""

from __future__ import annotations

from pathlib import Path

import nbformat

# theme -> (the edits to its SQL cell: (text, replaced by), …), the column they add, its kind
ADDED = {
    "push-open-rate": ((("JOIN push_notifications p USING (push_id)",
                         "JOIN push_notifications p USING (push_id)\nJOIN users u ON u.user_id = d.user_id"),
                        ("p.title, p.personalized", "p.title, p.personalized, u.age_band")),
                       "age_band", "category"),
    "call-keywords": ((("outcome = 'won' AS won", "outcome = 'won' AS won, hour(called_at) AS call_hour"),
                       ("NULL AS won", "NULL AS won, hour(called_at) AS call_hour")),
                      "call_hour", "number"),
    "product-ordering": ((("i.product_id\n", "i.product_id, p.category\n"),
                          ("JOIN order_items i USING (order_id)",
                           "JOIN order_items i USING (order_id)\nJOIN products p USING (product_id)")),
                         "category", "category"),
    "churn": ((("p.churned, u.plan,", "p.churned, u.plan, u.age_band,"),), "age_band", "category"),
}


def sql_cell(nb):
    """The notebook's SQL cell (the one code cell starting with %%sql)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%sql")]
    assert len(cells) == 1, f"{len(cells)} SQL cells"
    return cells[0]


def add_column(source: Path, out: Path, theme: str, keep_model: bool = False) -> Path:
    """A copy of the starter with ADDED[theme]'s column in its SQL cell; `keep_model` appends the
    hand-off's capture cell (model.skops and handoff-capture.json land in output_dir)."""
    from matsuri.handoff import capture

    nb = nbformat.read(source, as_version=4)
    cell = sql_cell(nb)
    for old, new in ADDED[theme][0]:
        assert cell.source.count(old) == 1, (old, cell.source)
        cell.source = cell.source.replace(old, new)
    if keep_model:
        nb.cells.append(nbformat.v4.new_code_cell(capture.cell(theme)))
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out
