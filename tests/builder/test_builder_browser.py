"""A participant who knows a little SQL and no Python: in their own server, as a Voila page, they
edit the builder's query, tick the new column, pick a model, run, save and submit, and read the
score. The saved notebook, run again with papermill, gives the same figures and the same file."""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
from playwright.sync_api import expect

from matsuri import theme_spec
from matsuri.builder.notebook import launcher
from support.festival import self_service_event

pytestmark = [pytest.mark.slow, pytest.mark.browser]


# per theme: a column the participant adds to the query (text found, text put instead), the model.
# Two themes, one per way of keeping validation rows aside (by time in whole pushes; at random);
# tests/builder/test_builder.py runs every theme's builder without a browser.
ADDED = {
    "push-open-rate": ("p.personalized, h.push_id", "p.personalized, length(p.title) AS title_chars, h.push_id",
                       "title_chars", "勾配ブースティング"),
    "churn": ("u.plan, u.age_band,", "u.plan, u.age_band, u.channel,", "channel", "ロジスティック回帰"),
}


# a rule made with the threshold controls (compared beside the model)
THRESHOLD = {"churn": ("events_14d", "<=", "0")}


@pytest.fixture(params=sorted(ADDED))
def festival(request, public_company, sandbox_user):
    extra = "[themes.churn]\npublic_share = 0.3\n" if request.param == "churn" else ""
    with self_service_event(public_company, sandbox_user, theme=request.param, extra_themes=extra) as made:
        made.theme = request.param
        yield made


def test_a_participant_builds_saves_and_submits_a_model_without_python(festival, browser, tmp_path):
    import nbformat
    import papermill

    from matsuri.hackathon.records import get_submission
    from support.lab import jupyterlab

    festival.start_runner()
    # the builder notebook `hackathon new` puts in a team's workspace
    theme = festival.theme
    find, put, column, model = ADDED[theme]
    metric = theme_spec.get(theme).leaderboard
    nbformat.write(launcher(theme, "ja"), tmp_path / "builder.ipynb")
    festival.give("alpha", tmp_path / "builder.ipynb")
    home = festival.home("alpha")
    env = {"MATSURI_EVENT": str(festival.event.root), "MATSURI_WAREHOUSE": str(festival.company.warehouse)}
    clicks = 0
    with jupyterlab(home, env, as_user=festival.people["alpha"]) as url, \
            contextlib.closing(browser.new_page(viewport={"width": 1366, "height": 900})) as page:
        started = time.monotonic()
        page.goto(url.format(path="").replace("/lab/tree/", "/voila/render/builder.ipynb"), timeout=120_000)
        app = page.locator(".matsuri-builder")
        app.locator(".matsuri-builder-feature").first.wait_for(timeout=120_000)
        opened = time.monotonic() - started

        query = app.locator(".matsuri-builder-sql textarea")
        assert find in query.input_value()
        query.fill(query.input_value().replace(find, put))
        app.locator(".matsuri-builder-load").click()
        clicks += 1
        added = app.locator(".matsuri-builder-feature", has_text=column).locator("input")
        added.wait_for(timeout=60_000)
        added.check()
        clicks += 1
        app.locator(".matsuri-builder-model select").select_option(label=model)
        clicks += 1
        if theme in THRESHOLD:
            limit, operator, value = THRESHOLD[theme]
            controls = app.locator(".matsuri-builder-threshold").locator("xpath=..")
            controls.locator("select").nth(0).select_option(limit)
            controls.locator("select").nth(1).select_option(operator)
            controls.locator("input").fill(value)
            app.locator(".matsuri-builder-threshold").click()
            expect(app.locator(".matsuri-builder-rule textarea")).to_have_value(
                f"CASE WHEN {limit} {operator} {value} THEN 1 ELSE 0 END", timeout=30_000)
        app.locator(".matsuri-builder-run").click()
        clicks += 1
        verdict = app.locator(".matsuri-verdict")
        verdict.wait_for(timeout=120_000)
        if theme in THRESHOLD:
            assert float(app.locator(".matsuri-figure[data-method='rule']").inner_text()) > 0.5
        assert "ベースライン" in verdict.inner_text()
        chosen = "boosting" if model == "勾配ブースティング" else "logistic"
        figures = app.locator(".matsuri-figure")
        shown = {figures.nth(i).get_attribute("data-method"): figures.nth(i).inner_text() for i in range(figures.count())}
        assert {"baseline", chosen} <= set(shown)
        assert app.locator(".matsuri-builder-result").get_by_text("学習").count() == 1

        app.locator(".matsuri-builder-submit").click()  # saves, then hands the saved notebook in
        clicks += 1
        scored = app.locator(".matsuri-builder-submission .matsuri-submit-scored")
        scored.wait_for(timeout=240_000)
        to_score = time.monotonic() - started
        text = scored.inner_text()
        page.screenshot(path=str(tmp_path / "builder.png"), full_page=True)

    stored = festival.rows("alpha")
    assert [(r["status"], r["kind"]) for r in stored] == [("scored", "notebook")]
    submission = get_submission(festival.event, stored[0]["id"])
    assert f"{metric} {submission.public[metric]:.4f}" in text

    saved = home / "builder-model.ipynb"
    recipe = nbformat.read(saved, as_version=4).cells[1].source
    assert column in recipe and f"'{chosen}'" in recipe
    papermill.execute_notebook(saved, tmp_path / "ran.ipynb", cwd=tmp_path, progress_bar=False, kernel_name="python3",
                               parameters={"output_dir": str(tmp_path / "again"),
                                           "warehouse": str(festival.company.warehouse)})
    again = nbformat.read(tmp_path / "ran.ipynb", as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in again.cells for o in c.get("outputs", []))
    assert {m: v for m, v in re.findall(r"data-method='(\w+)'>([\d.]+)<", html)} == shown
    assert (tmp_path / "again" / "predictions.csv").read_bytes() == (submission.folder / "files" / "predictions.csv").read_bytes()
    (tmp_path / "figures.json").write_text(json.dumps({"opened_s": opened, "to_score_s": to_score, "clicks": clicks}))
    print(f"builder ({theme}): first widget {opened:.1f} s, scored submission after {to_score:.1f} s and {clicks} clicks")


def test_the_builder_runs_inside_jupyterlab_too(tiny_company, browser, tmp_path):
    """The same app in a notebook cell of JupyterLab (English this time): run the cell, press Run."""
    import nbformat

    from support.lab import jupyterlab

    nbformat.write(launcher("churn", "en"), tmp_path / "builder.ipynb")
    env = {"PATH": __import__("os").environ["PATH"], "MATSURI_WAREHOUSE": str(tiny_company.warehouse),
           "MATSURI_LANG": "en", "HOME": str(tmp_path)}
    with jupyterlab(tmp_path, env) as url, contextlib.closing(browser.new_page()) as page:
        page.goto(url.format(path="builder.ipynb"), timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        cell = page.locator(".jp-CodeCell").filter(has_text="builder(")
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        app = cell.locator(".matsuri-builder")
        app.locator(".matsuri-builder-feature").first.wait_for(timeout=120_000)
        app.locator(".matsuri-builder-run").click()
        verdict = app.locator(".matsuri-verdict")
        verdict.wait_for(timeout=120_000)
        assert "logistic regression" in verdict.inner_text().lower()
        app.locator(".jp-OutputArea-output img").first.wait_for(timeout=30_000)  # the chart
