"""Are the templates complete, stored clean, parameterised, and blind to the holdout labels?"""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT
from matsuri.theme_spec import all_themes, template_dir

THEMES = list(all_themes())  # every theme folder of templates/


# the organiser-store tables each spec scores against (read by the scorer, never by a template)
SPEC_LABELS = sorted({re.search(r"\bFROM\s+(\w+)", t.labels_sql, re.I).group(1) for t in all_themes().values()})
SOURCES = [*sorted((ROOT / "src" / "matsuri" / "templates").glob("*.py")), *sorted((ROOT / "templates").rglob("*.ipynb"))]
LABEL_STORE = re.compile(r"labels_path|MATSURI_LABELS|organiser|planted_keywords|planted_successors|"
                         + "|".join(SPEC_LABELS))


@pytest.mark.parametrize("theme", list(THEMES))
def test_each_template_has_readme_starter_and_demo(theme):
    folder = template_dir(theme)
    readme = (folder / "README.md").read_text()
    for must in ("predictions.csv", "baseline", "ROC AUC" if theme != "product-ordering" else "NDCG@10"):
        assert must in readme, f"{theme}/README.md should mention {must}"


@pytest.mark.parametrize("theme", list(THEMES))
def test_starter_declares_its_parameters_for_papermill(theme):
    nb = nbformat.read(template_dir(theme) / "starter.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    import papermill

    found = papermill.inspect_notebook(str(template_dir(theme) / "starter.ipynb"))
    for name in ("warehouse", "output_dir", "baseline_dir", "seed", "table_names", "column_names"):
        assert name in found, f"papermill cannot see the parameter {name} (found {sorted(found)})"
        assert found[name]["help"], f"{name} has no explanation"


@pytest.mark.parametrize("path", [p for p in SOURCES if p.suffix == ".ipynb"], ids=lambda p: p.parent.name + "/" + p.name)
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_templates_never_touch_the_organiser_store():
    offenders = [p.relative_to(ROOT).as_posix() for p in SOURCES if LABEL_STORE.search(p.read_text())]
    assert offenders == []


def test_every_theme_declares_the_tables_it_reads():
    from .conftest import NEEDS

    assert set(NEEDS) == set(THEMES)
    assert all(columns for tables in NEEDS.values() for columns in tables.values())


def test_an_unknown_theme_lists_the_valid_ones():
    from matsuri.errors import UsageError

    with pytest.raises(UsageError) as error:
        template_dir("push-open-rates")
    assert "did you mean push-open-rate?" in str(error.value)
    assert f"Themes: {', '.join(THEMES)}." in str(error.value)
