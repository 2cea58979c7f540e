"""Does a Voila page finish when its kernel stops reading requests until someone connects (the
ipykernel 7 lost wake-up), and does a long cell still run to its end?

The notebook's first cell makes its own kernel do what the lost wake-up does: stop reading the
shell socket until a new connection arrives on it. Voila then sends the next cell and nobody
answers; only the festival's kernel watch (`matsuri.voila_kernels`) connects, and the page ends.
The last cell sleeps longer than the wake-up period: it must finish, not be interrupted.
"""

from __future__ import annotations

import time
import urllib.request

import nbformat
import pytest

from conftest import free_port
from matsuri import voila_kernels
from matsuri.templates.voila import serve

pytestmark = pytest.mark.slow

DEAF_UNTIL_SOMEONE_CONNECTS = """\
import zmq
from zmq.eventloop.zmqstream import ZMQStream

kernel = get_ipython().kernel
shell = kernel.shell_stream

def deafen():
    shell.stop_on_recv()  # requests now wait in the socket, unread
    monitor = ZMQStream(shell.socket.get_monitor_socket(zmq.EVENT_ACCEPTED), io_loop=shell.io_loop)

    def someone_connected(_event):
        monitor.stop_on_recv()
        shell.on_recv(kernel.shell_channel_thread_main, copy=False)  # read what waited

    monitor.on_recv(someone_connected)

shell.io_loop.add_callback(deafen)
print("deaf")
"""


def test_a_page_whose_kernel_stops_reading_still_ends_and_a_long_cell_is_not_cut(tmp_path):
    slow = voila_kernels.WAKE_SECONDS + 2
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(DEAF_UNTIL_SOMEONE_CONNECTS),
                nbformat.v4.new_code_cell("print('heard ' + 'again')"),
                nbformat.v4.new_code_cell(f"import time\ntime.sleep({slow})\nprint('slept ' + 'to the end')")]
    nbformat.write(nb, tmp_path / "deaf.ipynb")
    with serve(tmp_path / "deaf.ipynb", free_port(), log=tmp_path / "voila.log") as served:
        page = read_until_the_end(served.url, deadline=time.monotonic() + 4 * voila_kernels.WAKE_SECONDS + slow + 60)
    log = (tmp_path / "voila.log").read_text(errors="replace")
    assert page is not None, "the page never ended:\n" + log[-3000:]
    assert "heard again" in page and "slept to the end" in page, log[-3000:]
    assert "waking its sockets" in log
    assert "KeyboardInterrupt" not in page


def read_until_the_end(url: str, deadline: float) -> str | None:
    """The whole page, or None if it has not ended by `deadline` (Voila keeps a page that waits
    on a cell alive with heartbeats, so a read timeout alone would never fire)."""
    chunks = []
    with urllib.request.urlopen(url, timeout=60) as response:
        while time.monotonic() < deadline:
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    return None
