"""The hackathon templates' shared Python: what the starter and demo notebooks import.

One module per theme (`push`, `calls`, `ordering`, `churn`) holds its SQL, features, baselines and models;
`tables` opens the warehouse under the template's names, `sqlcell` lets a starter's `%%sql` cell query
it, `extras` turns the columns a participant adds to that SQL into features (with `columns`),
`evaluation` splits by time and states a verdict, `submission` writes the files the hackathon scores,
`charts` draws with a Japanese font, `voila` serves a demo. The notebooks live in `templates/<theme>/`.
"""
