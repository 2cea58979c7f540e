"""Machines for every participant: provisioners (local | jupyterhub | sagemaker) behind one interface.

`plan` is a dry run that validates every request offline, `apply` is idempotent and tolerant of
single failures, `status` shows who has what, `destroy` removes only what this event created.
"""
