"""Voila's kernels, watched so that a page never hangs at "Executing 2 of 3".

With ipykernel 7 a reply can sit unread in a ZeroMQ socket after its edge-triggered wake-up was
used up by another message: the kernel has run the cell and gone idle, Voila waits for a reply it
never sees, and the judge's page spins for ever (seen here in a few percent of page opens on a
busy 2-core machine, cold or warm). Anything that touches the socket again sets it free.

So every cell Voila runs has a wake-up period (`WAKE_SECONDS`). When it passes without a reply,
nbclient polls its socket afresh (Voila passes `VoilaExecutor.timeout` and
`interrupt_on_timeout` from `options()`), and instead of interrupting, `WakingKernelManager`
sends the kernel a `kernel_info_request` on a new connection, which makes it read what was waiting.
A cell that is really busy keeps running: nothing is interrupted, and the page waits as before.

A cell's outputs travel apart from its reply. With many pages at once on 2 cores they can arrive
seconds after it, and Voila's executor gives up on them after 4 s: the page is sent complete but
empty, without its chart (4 to 5 pages in 50 from 10 browsers at once, each after a "Timeout
waiting for IOPub output" in the log). So a cell's outputs are awaited up to `OUTPUT_SECONDS`.
"""

from __future__ import annotations

import contextlib
from queue import Empty

from jupyter_client.session import new_id
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

WAKE_SECONDS = 10
REPLY_SECONDS = 2.0
OUTPUT_SECONDS = 60  # how long a cell's outputs may trail its reply (nbclient's default, 4 s, drops them)


class WakingKernelManager(ServerKernelManager):
    """One Voila kernel. Voila's executor "interrupts" it when a cell has had no reply for
    `WAKE_SECONDS`; that wakes the kernel's sockets instead, and lets a busy cell run on."""

    async def interrupt_kernel(self, *args, **kwargs) -> None:
        self.log.warning("No reply from kernel %s for %s s: waking its sockets (nothing is interrupted)",
                         self.kernel_id, WAKE_SECONDS)
        await self.wake()

    async def wake(self) -> bool:
        """Ask the kernel for its info on a new connection; True if it answered in time.

        The connection has a session of its own: the kernel routes shell replies by session, and
        one borrowed from Voila's executor would take its replies away."""
        session = self.session.clone()
        session.session = new_id()
        client = self.client(session=session)
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            client.kernel_info()
            with contextlib.suppress(Empty):
                await client.shell_channel.get_msg(timeout=REPLY_SECONDS)
                return True
            return False
        finally:
            client.stop_channels()


def options() -> list[str]:
    """Voila command-line options that make its kernels `WakingKernelManager`s."""
    return [
        f"--AsyncMappingKernelManager.kernel_manager_class={__name__}.WakingKernelManager",
        f"--VoilaExecutor.timeout={WAKE_SECONDS}",
        "--VoilaExecutor.interrupt_on_timeout=True",
        f"--VoilaExecutor.iopub_timeout={OUTPUT_SECONDS}",
    ]
