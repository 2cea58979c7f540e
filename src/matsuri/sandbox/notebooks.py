"""Execute a notebook with papermill in this process, its kernel inside a sandbox (or trusted).

papermill runs here, not in a child process, so that the sandbox's bubblewrap has this process
as its parent: if the organiser's command dies, the run dies with it. What the kernel prints is
kept up to a size bound: a notebook printing 250 MB would otherwise grow this process and the
executed notebook kept in the event's state without limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path

from matsuri.sandbox import kernels
from matsuri.sandbox.box import Sandbox
from matsuri.sandbox.text import printable

MAX_OUTPUT_BYTES = 2_000_000
ENGINE = "matsuri-capped"


def _engine():
    """papermill's nbclient engine with a client that stops keeping outputs past a bound."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class CappedClient(PapermillNotebookClient):
        max_output_bytes = MAX_OUTPUT_BYTES

        def output(self, outs, msg, display_id, cell_index):
            self._kept = getattr(self, "_kept", 0) + len(json.dumps(msg.get("content", {})))
            if self._kept <= self.max_output_bytes:
                return super().output(outs, msg, display_id, cell_index)
            if not getattr(self, "_cut", False):
                self._cut = True
                note = (f"[matsuri] Output stopped here: this notebook printed more than "
                        f"{self.max_output_bytes // 1_000_000} MB, and only that much is kept.\n")
                outs.append(_stream(note))
            return None

        def log_output_message(self, output):
            if not getattr(self, "_cut", False):  # the log keeps no more than the notebook
                super().log_output_message(output)

    class CappedEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None,
                                     **kwargs):
            kwargs.pop("input_path", None)
            client = CappedClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                  kernel_name=kernel_name, log=logging.getLogger("papermill"),
                                  log_output=log_output, stdout_file=stdout_file,
                                  stderr_file=stderr_file, shutdown_kernel="immediate", **kwargs)
            # The kernel manager `execute` passes in is this run's alone. Given a manager, nbclient
            # would leave its kernel running and its client connected (a thread, ~20 descriptors
            # and an unwaited child per run, in whatever process runs submissions); owning it, it
            # kills the kernel, waits for it and closes the client when the notebook ends.
            client.owns_km = True
            return client.execute()

    if ENGINE not in papermill_engines._engines:
        papermill_engines.register(ENGINE, CappedEngine)
    return ENGINE


def _stream(text: str):
    import nbformat

    return nbformat.v4.new_output("stream", name="stderr", text=text)


class _Printable(logging.Formatter):
    """Log lines without terminal escape sequences: they quote what the notebook printed and its
    file name, and an organiser reading the log with `cat` must not get a retitled window."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


@contextlib.contextmanager
def _logged(path: Path):
    """papermill's progress lines ("Executing Cell 3") into the run's log file."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_Printable("%(asctime)s %(message)s"))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def execute(notebook: Path, executed: Path, log: Path, parameters: dict, timeout: int,
            box: Sandbox | None, cwd: Path, deadline: float | None = None) -> None:
    """Run `notebook` to `executed` with papermill; its kernel runs in `box` (None: trusted run,
    as the organiser, in a plain kernel). Raises what papermill raises; `deadline` seconds after
    the start the sandbox is ended, whatever runs."""
    import papermill
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    if box is not None:
        # In the run's own root-owned folder: removed with the run, even if this process is killed.
        kernels.register(box)
        kernels.write_kernelspec(box.dir / "kernelspec", "run", "matsuri run (sandboxed)", run=box)
        km = AsyncKernelManager(kernel_name="run", kernel_spec_manager=KernelSpecManager(
            kernel_dirs=[str(box.dir / "kernelspec" / "kernels")]))
    else:
        km = AsyncKernelManager(kernel_name="python3")
    timer = threading.Timer(deadline, box.end_processes) if box is not None and deadline else None
    try:
        if timer:
            timer.start()
        with _logged(log):
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, engine_name=_engine(),
                kernel_name=km.kernel_name, km=km, language="python", progress_bar=False,
                execution_timeout=timeout, log_output=True,
                resources={"metadata": {"path": str(cwd)}},  # the kernel's working folder
            )
    finally:
        if timer:
            timer.cancel()
        if box is not None:
            kernels.unregister(box)
