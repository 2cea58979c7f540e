"""Jupyter kernels inside a sandbox, for any jupyter_client user (papermill, Voila, nbgrader).

A kernelspec names the `matsuri-sandbox` provisioner and carries its sandbox in its metadata:
either `run` (a sandbox someone else opened and will close, as a submission run does, so its
files can be collected after the kernel ends) or `spec` (a new sandbox for each kernel, closed
with it, as for the gallery's demos). The kernel has no network, so it talks to its client over
ZMQ's IPC transport, through sockets in the run's own folder; its connection file lives in the
run's root-owned folder and is handed to the run's user. Interrupts go as messages: a signal
would reach bubblewrap, not the kernel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Unicode

from matsuri.sandbox.box import Sandbox, Spec

PROVISIONER = "matsuri-sandbox"
_open: dict[str, Sandbox] = {}  # sandboxes opened by callers, by folder: `run` in a kernelspec


def register(box: Sandbox) -> None:
    """Let kernelspecs that name this sandbox's folder start their kernel inside it."""
    _open[str(box.dir)] = box


def unregister(box: Sandbox) -> None:
    _open.pop(str(box.dir), None)


class SandboxProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernel starts inside a sandbox (see `box.py`)."""

    run = Unicode("", config=True, help="Folder of a sandbox opened by this process (kept open).")
    spec = Dict(config=True, help="A sandbox spec: a new sandbox per kernel, closed with it.")
    box: Sandbox | None = None
    owns_box = False

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        if self.box is None:
            if self.run:
                if self.run not in _open:
                    raise RuntimeError(f"No open sandbox at {self.run} in this process.")
                self.box = _open[self.run]
            else:
                self.box, self.owns_box = Sandbox(Spec.from_json(self.spec), "kernel").open(), True
        km = self.parent
        km.transport, km.ip, km.cache_ports = "ipc", str(self.box.ipc / "kernel"), False
        km.connection_file = str(self.box.dir / f"kernel-{self.kernel_id}.json")
        kwargs = await super().pre_launch(**kwargs)
        self.box.hand_over(Path(km.connection_file))
        cwd = Path(kwargs.get("cwd") or self.box.work)
        visible = (km.connection_file,) + (() if cwd.is_relative_to(self.box.work) else (str(cwd),))
        kwargs["cmd"] = self.box.command(kwargs["cmd"], cwd=cwd, read_only=visible)
        kwargs["env"] = {"PATH": "/usr/bin:/bin"}  # what sh and setpriv see; the kernel's is set inside
        kwargs["cwd"] = str(self.box.dir)
        # The kernel's own messages (banner, crashes) go to the run's log, not the organiser's terminal.
        self._log = open(self.box.dir / "kernel.log", "ab")  # noqa: SIM115 (closed in cleanup)
        kwargs["stdout"] = kwargs["stderr"] = self._log
        return kwargs

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        if self.box is None:
            return
        if self.owns_box and not restart:
            self.box.close()
            self.box = None
        elif not self.owns_box:
            self.box.end_processes()


def write_kernelspec(data_dir: Path, name: str, display_name: str, *, run: Sandbox | None = None,
                     spec: Spec | None = None) -> Path:
    """A kernelspec under `data_dir/kernels/` (put `data_dir` on JUPYTER_PATH, or list it in a
    KernelSpecManager's kernel_dirs) whose kernel starts in `run` or in a new sandbox of `spec`."""
    config = {"run": str(run.dir)} if run is not None else {"spec": spec.to_json()}
    folder = data_dir / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    kernelspec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name, "language": "python", "interrupt_mode": "message",
        "metadata": {"debugger": False,
                     "kernel_provisioner": {"provisioner_name": PROVISIONER, "config": config}},
    }
    (folder / "kernel.json").write_text(json.dumps(kernelspec, indent=1), encoding="utf-8")
    return folder
