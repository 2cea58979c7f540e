"""How every Voila of the festival runs: the judges' gallery (`gallery/server.py`) and a theme's
demo served alone (`templates/voila.py`) pass these same options on Voila's command line.

- A Content-Security-Policy lets a page load nothing from outside its own server: demos work in an
  offline room, and no CDN request can stall a page on a closed network.
- The JupyterLab extensions installed for learners (jupysql, jupytext, nbgrader, the notebook and
  preview launchers) are kept out of Voila pages, where they only throw errors.
- Sources are stripped and tracebacks hidden: judges see results, not code.
- Voila starts one kernel per page view and does not stop it when the page closes, so idle kernels
  are culled (warm pooled kernels are exempt).
- A warm pool is refilled 3 s after a page takes its kernel, not 1 s: the refill renders the
  notebook anew, which holds Voila's event loop for a quarter of a second, and at 1 s that fell
  just when the page's scripts connected to its kernel (first widget 1.34-1.51 s against
  1.77-1.85 s, preheated, in the judge's browser).
- Every kernel is watched (`matsuri.voila_kernels`): a cell with no reply for a few seconds has its
  sockets woken, so a lost ZeroMQ wake-up cannot leave a page spinning for ever.
- The XSRF check is off: a page's kernel is shut down by a beacon sent when the tab closes, and that
  beacon carries no XSRF token (Voila issue 1458); refused, it would leave the kernel running until
  culled. The only POST Voila serves is that shutdown, keyed by an unguessable kernel id.

Nothing here is secret: every user on the machine can read a command line.
"""

from __future__ import annotations

from matsuri import voila_kernels

CONTENT_SECURITY_POLICY = ("default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; "
                           "connect-src 'self'; frame-ancestors 'self'")
EXTENSION_DENYLIST = (
    "jupysql-plugin", "jupyterlab-jupytext", "@jupyter/nbgrader",
    "@jupyter-notebook/lab-extension", "@voila-dashboards/jupyterlab-preview",
)
TORNADO_SETTINGS = {"headers": {"Content-Security-Policy": CONTENT_SECURITY_POLICY}, "disable_check_xsrf": True}
CULL_INTERVAL_SECONDS = 60
POOL_REFILL_DELAY_SECONDS = 3  # after the page a kernel was taken for has drawn its first widget


def options(cull_idle_seconds: int) -> list[str]:
    """Voila command-line options for all of the above; kernels idle this long are shut down."""
    return [
        f"--VoilaConfiguration.extension_denylist={list(EXTENSION_DENYLIST)!r}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--Voila.tornado_settings={TORNADO_SETTINGS!r}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_seconds}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",
        f"--VoilaKernelManager.fill_delay={POOL_REFILL_DELAY_SECONDS}",
        *voila_kernels.options(),
    ]
