"""Confine participants' code: a kernel launcher that drops to an unprivileged user with limits.

Used as the argv of a Jupyter kernelspec (for papermill submission runs and for the teams' Voila
demos), so only the kernel, the process running participants' code, is confined:

    python -m matsuri.hackathon.sandbox --user matsuri-sandbox --memory-mb 4096 --scratch /tmp/x \
        -- python -m ipykernel_launcher -f {connection_file}

It gives the kernel a fresh home folder, a private copy of its connection file, an environment
built from an allow-list (so no organiser secrets such as MATSURI_LABELS leak through), address
space and file size limits (RLIMIT_AS, RLIMIT_FSIZE), then switches user and execs the kernel.
The organiser-only labels store is 0600 in a 0700 folder owned by the organiser, so the
unprivileged user cannot open it. Only the standard library is imported: this runs on every
kernel start.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASS_THROUGH = ("LANG", "LC_ALL", "TZ", "JPY_PARENT_PID", "QUERY_STRING", "SCRIPT_NAME", "PATH_INFO")
PASS_PREFIXES = ("VOILA_", "SERVER_")


def clean_env(home: Path, threads: int, extra: dict[str, str]) -> dict[str, str]:
    """The kernel's whole environment: nothing from the organiser's shell but an allow-list."""
    env = {k: v for k, v in os.environ.items() if k in PASS_THROUGH or k.startswith(PASS_PREFIXES)}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": env.get("LANG", "C.UTF-8"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "IPYTHONDIR": str(home / ".ipython"),
        "PLOOMBER_STATS_ENABLED": "false",
        "MALLOC_ARENA_MAX": "2",  # fewer glibc arenas: less address space reserved per thread
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONNOUSERSITE": "1",
    }
    return env | extra


def limit(memory_mb: int, file_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def become(user: str) -> None:
    """Switch to `user` for good (groups, gid, then uid); refuse to continue if it did not stick."""
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("matsuri sandbox: could not drop root privileges; refusing to start the kernel")


def launch(args: argparse.Namespace) -> None:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    scratch = Path(args.scratch)
    home = Path(tempfile.mkdtemp(prefix="kernel-", dir=scratch))
    entry = pwd.getpwnam(args.user) if args.user else None
    if "-f" in command:  # the kernel's own copy of its connection file, readable after the switch
        index = command.index("-f") + 1
        copy = home / "connection.json"
        shutil.copyfile(command[index], copy)
        copy.chmod(0o600)
        command[index] = str(copy)
    if entry:
        for path in [home, *home.iterdir()]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    extra = dict(item.split("=", 1) for item in args.env)
    env = clean_env(home, args.threads, extra)
    limit(args.memory_mb, args.file_mb)
    if entry:
        become(args.user)
    os.execve(command[0], command, env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m matsuri.hackathon.sandbox", description=__doc__)
    parser.add_argument("--user", default="", help="unprivileged user to run as (needs root); empty: stay")
    parser.add_argument("--memory-mb", type=int, required=True, help="address-space limit (RLIMIT_AS)")
    parser.add_argument("--file-mb", type=int, default=2048, help="largest file it may write")
    parser.add_argument("--threads", type=int, default=2, help="threads for numeric libraries")
    parser.add_argument("--scratch", required=True, help="folder for the kernel's fresh home folder")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE to pass to the kernel")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    launch(parser.parse_args(argv))


# ---- used by the organiser's side (runner, gallery): users, kernelspecs, permission checks ----

def user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def create_user(user: str, attempts: int = 10) -> None:
    """A system user with no home and no login shell, only for running participants' code."""
    for attempt in range(attempts):
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--user-group", user],
            capture_output=True, text=True,
        )
        if proc.returncode == 0 or user_exists(user):
            return
        if proc.returncode != 10 or attempt == attempts - 1:  # 10: /etc/passwd busy, try again
            raise RuntimeError(proc.stderr.strip() or f"useradd exited with {proc.returncode}")
        time.sleep(0.2 * (attempt + 1))


def closed_folders() -> list[Path]:
    """Folders above this Python, its environment or the kit that other users cannot pass through."""
    import matsuri

    starts = [Path(sys.executable), Path(os.path.realpath(sys.executable)), Path(sys.prefix),
              Path(matsuri.__file__).resolve()]
    folders = {p for start in starts for p in start.parents}
    return sorted(p for p in folders if p.is_dir() and not os.stat(p).st_mode & 0o001)


def _as_user(user: str, code: str, *args: str) -> int:
    """Exit code of a tiny Python program run as `user` (with this environment's interpreter)."""
    from matsuri.errors import UsageError

    entry = pwd.getpwnam(user)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], user=entry.pw_uid, group=entry.pw_gid,
            extra_groups=[], capture_output=True, env={"PATH": "/usr/bin:/bin"}, cwd="/",
        )
    except PermissionError:
        proc = None
    if proc is None:
        blocked = " ".join(str(p) for p in closed_folders()) or "a folder above it"
        raise UsageError(
            f"The user '{user}' cannot run Python at {sys.executable}, because {blocked} is private. "
            "Install Python and the kit where every user can run them (for example under /usr/local "
            f"or /opt), or let that user pass through: setfacl -m u:{user}:x {blocked}"
        )
    return proc.returncode


def can_run_kernel(user: str) -> None:
    """Raise a clear UsageError unless `user` can start this environment's Python and ipykernel."""
    from matsuri.errors import UsageError

    if user and _as_user(user, "import ipykernel") != 0:
        raise UsageError(
            f"The user '{user}' can start Python but cannot load the kit's packages from "
            f"{sys.prefix}. Make that folder readable by every user (chmod -R o+rX) and try again."
        )


def can_read(path: Path, user: str) -> bool:
    """Whether `user` can open `path` for reading: asked of the system itself, so ACLs count too."""
    if not user:
        return os.access(path, os.R_OK)
    probe = "import sys\ntry:\n open(sys.argv[1], 'rb').close()\nexcept OSError:\n sys.exit(1)"
    return _as_user(user, probe, str(path)) == 0


def write_kernelspec(data_dir: Path, name: str, display_name: str, *, user: str, memory_mb: int,
                     threads: int, scratch: Path, env: dict[str, str], file_mb: int = 2048) -> Path:
    """A kernelspec whose kernel starts through this launcher; `data_dir` goes on JUPYTER_PATH."""
    argv = [sys.executable, "-m", "matsuri.hackathon.sandbox", "--user", user,
            "--memory-mb", str(memory_mb), "--file-mb", str(file_mb), "--threads", str(threads),
            "--scratch", str(scratch)]
    argv += [f"--env={k}={v}" for k, v in sorted(env.items())]
    argv += ["--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    folder = data_dir / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "display_name": display_name, "language": "python",
            "metadata": {"debugger": False}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return folder


def scratch_dir(prefix: str, user: str) -> Path:
    """A fresh folder under the system temp dir that the sandbox user can reach by path."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)
    return path


if __name__ == "__main__":
    main()
