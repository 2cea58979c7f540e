"""The festival funnel, for organisers and managers: how far each person and team got, from
registration through the courses to a scored submission, the baseline and a demo.

    compute.py   the stages, their rules and the headline figures (from the modules below)
    jobs.py      who counts as an engineer (participants.csv `job`)
    courses.py   lessons handed in, from each course's gradebook and submitted/ folder
    logs.py      learners' activity logs, read where they are (written by matsuri.checks.activity)
    teams.py     teams, scored submissions, the baseline and judges' marks, from the event store
    chart.py     the funnel chart (PNG, Japanese labels)
    export.py    the per-person CSV and the self-contained HTML page
    page.py      the gallery's funnel page (Voila)
    commands.py  `matsuri hackathon funnel` and `matsuri hackathon baseline`

Everything here only reads: the funnel never changes a store it looks at. Importing the package
is cheap (the CLI imports it on every call); the modules load what they need.
"""

PARTICIPANTS_ENV = "MATSURI_PARTICIPANTS"   # participants.csv (default: the project root's, as for infra)
ACTIVITY_ENV = "MATSURI_ACTIVITY_FROM"      # folders of <user>/.matsuri/activity.jsonl, os.pathsep-separated
