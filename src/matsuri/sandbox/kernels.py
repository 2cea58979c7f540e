"""Jupyter kernels inside a sandbox, for any jupyter_client user (papermill, Voila, nbgrader).

A kernelspec names the `matsuri-sandbox` provisioner and carries its sandbox in its metadata:
either `run` (a sandbox someone else opened and will close, as a submission run does, so its
files can be collected after the kernel ends) or `spec` (a new sandbox for each kernel, closed
with it). With `spec`, a `zygote` (a sandbox another process keeps open, with a warm process in
it: `grading.forkserver`) has each kernel forked inside that one shared sandbox instead, ready in
a fraction of the time, as the gallery's demos are (`gallery/warm_demos.py`); while the zygote is
not there, or its sandbox has no room for one more kernel, kernels get a sandbox of their own.

The kernel has no network, so it talks to its client over ZMQ's IPC transport, through sockets in
the run's own folder; its connection file lives in the run's root-owned folder (a forked kernel's:
in its sockets' folder, which is all the zygote sees) and is handed to the run's user. Interrupts
go as messages: a signal would reach bubblewrap, not the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Unicode

from matsuri.sandbox.box import Sandbox, Spec

PROVISIONER = "matsuri-sandbox"
_open: dict[str, Sandbox] = {}  # sandboxes opened by callers, by folder: `run` in a kernelspec
_warm: dict[str, Sandbox] = {}  # sandboxes other processes keep open with a zygote, by folder
# What a forked kernel may grow to (MB, tasks): a demo's held about 60-110 MB and 16 tasks of its
# own once its notebook had run, which took up to a minute with ten judges at once. A shared
# sandbox forks a kernel only with this much left for it and for each kernel forked in that time.
KERNEL_ROOM = (256, 32)
GROWING_SECONDS = 60
_forked: dict[str, list[float]] = {}  # when kernels were forked lately, by sandbox folder


def register(box: Sandbox) -> None:
    """Let kernelspecs that name this sandbox's folder start their kernel inside it."""
    _open[str(box.dir)] = box


def unregister(box: Sandbox) -> None:
    _open.pop(str(box.dir), None)


class SandboxProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernel starts inside a sandbox (see `box.py`)."""

    run = Unicode("", config=True, help="Folder of a sandbox opened by this process (kept open).")
    spec = Dict(config=True, help="A sandbox spec: a new sandbox per kernel, closed with it.")
    zygote = Dict(config=True, help="With `spec`: `run` and `spec`, an open sandbox shared by its "
                                    "kernels, and `address`, its zygote's: kernels are forked there.")
    box: Sandbox | None = None
    owns_box = False
    forked = False  # started by the zygote in its (shared) sandbox

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        if self.box is None and (warm := self._warm_box()) is not None:
            self.box, self.forked = warm, True
        if self.forked:
            return await self._pre_launch_forked(**kwargs)
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

    def _warm_box(self) -> Sandbox | None:
        """The zygote's sandbox, if the kernelspec names one that is ready to fork and has room
        for one more kernel (else this one gets a sandbox of its own, with its own limits)."""
        if not self.zygote or not os.path.exists(self.zygote["address"]):
            return None
        folder = self.zygote["run"]
        if folder not in _warm:
            _warm[folder] = Sandbox.attach(Spec.from_json(self.zygote["spec"]), Path(folder))
        # Kernels forked moments ago have not grown to their size yet: leave room for them too.
        now, recent = time.monotonic(), _forked.setdefault(folder, [])
        recent[:] = [at for at in recent if now - at < GROWING_SECONDS]
        memory_mb, tasks = KERNEL_ROOM
        if not _warm[folder].group.has_room(memory_mb * (len(recent) + 1), tasks * (len(recent) + 1)):
            return None
        recent.append(now)
        return _warm[folder]

    async def _pre_launch_forked(self, **kwargs: Any) -> dict[str, Any]:
        # The zygote's sandbox sees only its own folders: sockets and connection file go in its
        # ipc folder, each kernel's under names of its own (page views start side by side).
        km, ipc = self.parent, self.box.ipc
        km.transport, km.ip, km.cache_ports = "ipc", str(ipc / f"k{self.kernel_id[:8]}"), False
        km.connection_file = str(ipc / f"kernel-{self.kernel_id}.json")
        kwargs = await super().pre_launch(**kwargs)
        self.box.hand_over(Path(km.connection_file))
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        if not self.forked:
            return await super().launch_kernel(cmd, **kwargs)
        from matsuri.grading import forkserver

        argv, cwd = forkserver.ipykernel_argv(cmd), str(kwargs.get("cwd") or self.box.work)
        pid = None
        if argv is not None:
            with contextlib.suppress(OSError, ValueError, KeyError):  # gone, or could not fork
                pid = self.box.host_pid(forkserver.fork(self.zygote["address"], argv,
                                                        self.box.environment(), cwd))
        if pid is None:  # started the normal way, in the zygote's sandbox
            return await super().launch_kernel(self.box.command(cmd, cwd=Path(cwd)),
                                               env={"PATH": "/usr/bin:/bin"}, cwd=str(self.box.dir))
        return await forkserver.adopted(self, pid, cwd)

    async def cleanup(self, restart: bool = False) -> None:
        if self.forked:  # the sandbox is shared: end only what this kernel started
            await super().cleanup(restart)
            self._end_group()
            return
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

    def _end_group(self) -> None:
        """Kill what is left of this kernel's process group (its subprocesses), looked up among
        the sandbox's processes, never by a group id that may have been reused on the host."""
        for pid in self.box.group.pids() if self.pgid else ():
            with contextlib.suppress(OSError):
                if os.getpgid(pid) == self.pgid:
                    os.kill(pid, signal.SIGKILL)


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


def read_spec(folder: Path) -> Spec | None:
    """The sandbox spec of a kernelspec written by `write_kernelspec(spec=...)`; None for `run`."""
    kernelspec = json.loads((folder / "kernel.json").read_text(encoding="utf-8"))
    config = kernelspec["metadata"]["kernel_provisioner"]["config"]
    return Spec.from_json(config["spec"]) if "spec" in config else None


def fork_from(folder: Path, box: Sandbox, address: str) -> None:
    """Have the kernels of the kernelspec in `folder` forked by the zygote at `address`, which
    runs in `box` until the caller closes it. Kernels started while it is not there, or while
    `box` has no room for one more, get a new sandbox of the kernelspec's own spec."""
    path = folder / "kernel.json"
    kernelspec = json.loads(path.read_text(encoding="utf-8"))
    config = kernelspec["metadata"]["kernel_provisioner"]["config"]
    config["zygote"] = {"run": str(box.dir), "address": address, "spec": box.spec.to_json()}
    path.write_text(json.dumps(kernelspec, indent=1), encoding="utf-8")
