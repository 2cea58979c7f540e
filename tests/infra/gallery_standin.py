"""A stand-in for the Voila gallery behind the hub's login gate: one page and one echo websocket
(where Voila has its kernel channels). Like Voila, it refuses requests without its token.

Usage: MATSURI_GALLERY_TOKEN=… python gallery_standin.py PORT BASE_URL
"""

import asyncio
import os
import sys

from tornado import web, websocket

PORT, BASE, TOKEN = int(sys.argv[1]), sys.argv[2], os.environ["MATSURI_GALLERY_TOKEN"]


def allowed(handler) -> bool:
    return handler.request.headers.get("Authorization") == f"token {TOKEN}"


class Page(web.RequestHandler):
    def get(self):
        if not allowed(self):
            raise web.HTTPError(403)
        self.write("<h1>Judges' gallery</h1>")


class Channels(websocket.WebSocketHandler):
    async def get(self, *args, **kwargs):
        if not allowed(self):
            raise web.HTTPError(403)
        await super().get(*args, **kwargs)

    def on_message(self, message):
        self.write_message(f"echo: {message}")


async def main():
    web.Application([(BASE + r"api/kernels/[^/]+/channels", Channels), (BASE, Page)]).listen(PORT, "127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
