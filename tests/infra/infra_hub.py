"""Talking to a real JupyterHub as a person would: log in with the shared password, then use the
REST API with the token the hub issues to that person."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from datetime import UTC, datetime

import requests

from matsuri.infra.hub import accounts


class HubUser:
    def __init__(self, base: str, name: str, password: str):
        self.base, self.name = base.rstrip("/"), name
        self.web = requests.Session()
        login = self.web.get(f"{self.base}/hub/login", timeout=10)
        login.raise_for_status()
        answer = self.web.post(f"{self.base}/hub/login?next=", allow_redirects=False, timeout=30,
                               data={"username": name, "password": password,
                                     "_xsrf": self.web.cookies.get("_xsrf", "")})
        assert answer.status_code == 302, f"{name} could not log in: {answer.status_code} {answer.text[:300]}"
        xsrf = self.web.cookies.get("_xsrf", path="/hub/") or self.web.cookies.get("_xsrf")
        made = self.web.post(f"{self.base}/hub/api/users/{name}/tokens", json={"note": "test"},
                             headers={"X-XSRFToken": xsrf}, timeout=10)
        assert made.status_code == 201, made.text
        self.token = made.json()["token"]
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {self.token}"

    def hub(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.api.request(method, f"{self.base}/hub/api{path}", timeout=60, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.api.get(f"{self.base}{path}", timeout=60, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.api.post(f"{self.base}{path}", timeout=300, **kwargs)

    def start(self) -> None:
        """Ask for the server (202 = starting, 201 = started, 400 = already running)."""
        answer = self.hub("POST", f"/users/{self.name}/server")
        assert answer.status_code in (201, 202, 400), answer.text

    def wait_ready(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.hub("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic()
            time.sleep(0.25)
        raise TimeoutError(f"{self.name}'s server did not become ready in {timeout:.0f} s")

    def ensure_running(self) -> None:
        """Start the server if needed and mark it active now, so the idle culler leaves it alone."""
        self.start()
        self.wait_ready()
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        answer = self.hub("POST", f"/users/{self.name}/activity",
                          json={"last_activity": now, "servers": {"": {"last_activity": now}}})
        assert answer.ok, (answer.status_code, answer.text)

    def server_running(self) -> bool:
        return bool(self.hub("GET", f"/users/{self.name}").json().get("servers", {}).get(""))


def run_code(user: HubUser, code: str, timeout: float = 300) -> str:
    """Run `code` in a new kernel of the user's own server (through the hub, with their token)
    and return what it printed; the kernel is shut down afterwards."""
    import asyncio
    import json
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    kernels = f"/user/{user.name}/api/kernels"
    made = user.post(kernels, json={"name": "python3"})
    assert made.status_code == 201, made.text
    kernel = made.json()["id"]

    async def talk() -> str:
        from tornado import httpclient, websocket

        url = f"ws{user.base.removeprefix('http')}{kernels}/{kernel}/channels"
        conn = await websocket.websocket_connect(httpclient.HTTPRequest(
            url, headers={"Authorization": f"token {user.token}"}))
        msg_id = uuid.uuid4().hex
        await conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user.name,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        printed = []
        while True:
            message = json.loads(await asyncio.wait_for(conn.read_message(), timeout))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                printed.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                conn.close()
                return "".join(printed)

    try:
        with ThreadPoolExecutor(1) as pool:  # a fresh event loop, whatever the caller holds
            return pool.submit(asyncio.run, talk()).result()
    finally:
        user.api.delete(f"{user.base}{kernels}/{kernel}", timeout=30)


def cleanup_accounts(event: str) -> None:
    """Safety net: stop leftover processes of this test's accounts (by pid) and remove them."""
    for entry in pwd.getpwall():
        if entry.pw_gecos == accounts.marker(event):
            pids = subprocess.run(["pgrep", "-u", entry.pw_name], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["userdel", "--remove", entry.pw_name], capture_output=True)
