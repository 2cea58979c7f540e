"""After the festival: a scored submission becomes a component other systems call.

`matsuri handoff TEAM --out DIR` runs the team's notebook once more (in the runner's sandbox),
keeps its trained model and baseline (skops, never pickle), and writes a folder that stands on its
own:

    DIR/
      README.md                 how to build, run, call, schedule and retrain it
      component.json            theme, inputs and their types, model, data it learned from, metrics
      model.skops baseline.skops
      notebook.ipynb            the team's notebook, as handed in
      batch.ipynb               the batch job (papermill -p start … -p end … -p output_table …)
      matsuri-batch.service / .timer, cron.txt
      requirements.txt          pinned from the environment that trained the model
      Dockerfile                the scoring service (FastAPI, uvicorn) and the batch job
      vendor/                   the kit's package and the theme's spec, which the model's steps import
      model-card.md/.html       purpose, data, metrics against the baselines, limits, how to retrain
      kpi/                      the theme's KPI queries, their weekly values and chart
      ab-plan.md                the sample size of the A/B test that should judge it

How a theme is served is written in its library (`HANDOFF`, `serving_rows`, optional `prepare` and
`serve`), beside the code its notebooks use; nothing here names a theme.
"""
