"""The model builder: a model for any theme without writing Python.

Choose the data with an editable SQL query (its columns become candidate features, typed by
`matsuri.templates.columns`), tick features, pick a model (the naive baseline, a rule written in
SQL, logistic regression, gradient boosting), and compare it with the baseline on validation rows
cut like the holdout. The choices are one `Recipe`; "save as notebook" writes them as papermill
parameters of an ordinary notebook that gives the same figures and the same prediction files.

    recipe.py    the choices, as notebook parameters
    models.py    the four kinds of model, by name
    run.py       load, split, validate, predict and write the theme's files
    verdict.py   the figures, a chart and a plain sentence in Japanese or English
    notebook.py  the saved notebook
    app.py       the ipywidgets app (JupyterLab and Voila)
"""
