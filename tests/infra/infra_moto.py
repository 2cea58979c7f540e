"""A real moto server on 127.0.0.1 and a small proxy in front of it that injects AWS faults.

The proxy lets tests drive botocore's real retry path: it answers chosen requests with a
throttling or quota error (as AWS would), and forwards everything else to moto unchanged.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import BIN, free_port
from matsuri import servers

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "ap-northeast-1"}


@contextmanager
def moto_server(log_dir: Path):
    """moto_server on a free port; yields its URL; always stopped."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)]
    with servers.running("moto_server", command, url, log=log_dir / "moto.log", any_status=True):
        yield url


def reset(url: str) -> None:
    """Forget every resource (moto's own reset endpoint)."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"))
    conn.request("POST", "/moto-api/reset")
    conn.getresponse().read()


def aws_env(url: str) -> dict[str, str]:
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": url}


@contextmanager
def using(url: str):
    """os.environ pointed at an endpoint for the duration (boto3 reads it at client creation)."""
    saved = {k: os.environ.get(k) for k in aws_env(url)}
    os.environ.update(aws_env(url))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class FaultyProxy:
    """Forward to moto, except that `faults[(operation, name)]` = [error codes…] are answered first.

    The operation comes from X-Amz-Target (SageMaker, JSON) or the Action form field (IAM, query),
    the name from the request's main name field.
    """

    STATUS = {"ThrottlingException": 400, "Throttling": 400, "ResourceLimitExceeded": 400}

    def __init__(self, upstream: str, faults: dict[tuple[str, str], list[str]] | None = None,
                 delay: float = 0.0):
        self.upstream = upstream.removeprefix("http://")
        self.delay = delay  # seconds added to every request (a network round trip, for benchmarks)
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.seen: Counter = Counter()
        self.port = free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._forward()

            def do_PUT(self):
                self._forward()

            def do_DELETE(self):
                self._forward()

            def do_HEAD(self):
                self._forward()

            def do_POST(self):
                self._forward()

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.delay:
                    time.sleep(proxy.delay)
                op, name = proxy._identify(self.headers, body)
                proxy.seen[(op, name)] += 1
                pending = proxy.faults.get((op, name))
                if pending:
                    code = pending.pop(0)
                    self._answer_error(code, op)
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer_error(self, code: str, op: str):
                if "x-amz-target" in {k.lower() for k in self.headers}:
                    data = json.dumps({"__type": code, "message": f"{code} injected by the test"}).encode()
                    ctype = "application/x-amz-json-1.1"
                else:
                    data = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} "
                            "injected by the test</Message></Error><RequestId>1</RequestId></ErrorResponse>").encode()
                    ctype = "text/xml"
                self.send_response(FaultyProxy.STATUS.get(code, 400))
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _identify(headers, body: bytes) -> tuple[str, str]:
        target = headers.get("X-Amz-Target", "")
        if target:
            data = json.loads(body or b"{}")
            name = data.get("NotebookInstanceName") or data.get("NotebookInstanceLifecycleConfigName", "")
            return target.split(".")[-1], name
        from urllib.parse import parse_qs

        form = parse_qs(body.decode(errors="replace"))
        return form.get("Action", [""])[0], form.get("RoleName", [""])[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
