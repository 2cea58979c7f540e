"""JupyterHub on one VM: one real system account per participant, nbgrader roles, gallery, culler."""
