"""A JupyterHub login gate in front of a web app that does not speak hub OAuth (the Voila gallery).

Run as a hub-managed service: `python -m matsuri.infra.hub.gate -- <app command with {port} and
{base_url}>`. The gate starts the app on a private port with a random token in its environment
(APP_TOKEN_ENV and JUPYTER_TOKEN, never on a command line, which any local account can read), adds
it to every forwarded request, so other local accounts cannot use the app, lets through only people holding the
service's access scope (judges and instructors, through their roles), and forwards HTTP and
websockets (Voila's kernels) unchanged. Everyone else gets 403; nobody reaches the app directly
except from this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import sys
from urllib.parse import urlparse

from matsuri import servers
from matsuri.errors import MatsuriError

HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-authorization", "te",
       "trailer", "content-length", "content-encoding"}

APP_TOKEN_ENV = "MATSURI_GALLERY_TOKEN"  # what `matsuri gallery serve` reads its token from
# `matsuri gallery serve` builds the gallery, warms every team's demo (about 1.5 s a team on 2 cores:
# 45 s for 30 teams), then waits up to 90 s for Voila
APP_START_SECONDS = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_app(upstream: str, prefix: str, token: str):
    from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
    from tornado import httpclient, web, websocket

    auth = HubOAuth.instance(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    client = httpclient.AsyncHTTPClient()

    class Forward(HubOAuthenticated, web.RequestHandler):
        def initialize(self):
            self.hub_auth = auth

        def check_xsrf_cookie(self):
            """The app behind checks its own forms; the hub cookie alone proves who this is."""

        async def _forward(self, *args):
            headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in HOP}
            headers["Authorization"] = f"token {token}"
            answer = await client.fetch(
                upstream + self.request.uri, method=self.request.method, headers=headers,
                body=self.request.body if self.request.method in ("POST", "PUT", "PATCH") else None,
                follow_redirects=False, raise_error=False, allow_nonstandard_methods=True,
                decompress_response=True, request_timeout=300)
            if answer.code == 599:
                raise web.HTTPError(502, f"the app behind the gate did not answer: {answer.error}")
            self.set_status(answer.code, answer.reason)
            self._headers.clear()
            for key, value in answer.headers.get_all():
                if key.lower() not in HOP:
                    self.add_header(key, value)
            if answer.body:
                self.write(answer.body)

        get = post = put = patch = delete = web.authenticated(_forward)

    class ForwardSocket(HubOAuthenticated, websocket.WebSocketHandler):
        def initialize(self):
            self.hub_auth = auth
            self.upstream = None

        async def get(self, *args, **kwargs):
            if self.current_user is None:
                raise web.HTTPError(403)
            await super().get(*args, **kwargs)

        async def open(self, *args):
            url = "ws" + upstream.removeprefix("http") + self.request.uri
            self.upstream = await websocket.websocket_connect(
                httpclient.HTTPRequest(url, headers={"Cookie": self.request.headers.get("Cookie", ""),
                                                     "Authorization": f"token {token}"}),
                on_message_callback=self._from_upstream)

        def _from_upstream(self, message):
            if message is None:
                self.close()
            else:
                self.write_message(message, binary=isinstance(message, bytes))

        async def on_message(self, message):
            if self.upstream is not None:
                await self.upstream.write_message(message, binary=isinstance(message, bytes))

        def on_close(self):
            if self.upstream is not None:
                self.upstream.close()

    return web.Application([
        (prefix + "oauth_callback", HubOAuthCallbackHandler, {}),
        (prefix + r".*/(?:channels|subscribe)", ForwardSocket),
        (prefix + r".*", Forward),
        (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
    ], cookie_secret=os.urandom(32), hub_auth=auth)


async def serve(upstream: str, prefix: str, token: str, listen) -> None:
    """Serve until SIGTERM (the hub stopping the service) or SIGINT."""
    from tornado.httpserver import HTTPServer

    server = HTTPServer(make_app(upstream, prefix, token), xheaders=True)
    server.listen(listen.port, listen.hostname)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"gate: {prefix} on {listen.netloc} -> app at {upstream}", flush=True)
    await stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the app's command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the app's command after --")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    listen = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:9011"))
    port, token = free_port(), secrets.token_hex(16)
    app_cmd = [c.replace("{port}", str(port)).replace("{base_url}", prefix) for c in command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_API_TOKEN")}
    env |= {APP_TOKEN_ENV: token, "JUPYTER_TOKEN": token}
    upstream = f"http://127.0.0.1:{port}"
    try:  # the app's output goes where the gate's does (the hub's log); any answer means it is up
        with servers.running("the app", app_cmd, upstream + prefix, env=env, log=sys.stdout,
                             timeout=APP_START_SECONDS, grace=30, any_status=True):
            asyncio.run(serve(upstream, prefix, token, listen))
    except MatsuriError as error:
        raise SystemExit(f"gate: {error}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
