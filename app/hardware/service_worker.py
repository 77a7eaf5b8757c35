"""A bus worker that does not poll: it carries a technician's requests (the Diagnostics dialog,
the ``field`` commands) to a port that the console's runtime does not poll.

The port opens here, on the caller's thread, so a wrong name or a dead gateway is reported
before any thread starts; after a later fault the worker reopens it by itself.
"""

from __future__ import annotations

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.link import LineSettings, Link
from app.hardware.transport import open_link


def open_service_worker(
    name: str, url: str, settings: LineSettings, meters: list[BusMeter], *, retries: int = 0
) -> BusWorker:
    """Open ``url`` with ``settings`` (``PortUnavailable`` when it cannot be) and start a
    worker on it that serves requests only. Blocks while the port opens: call it off the GUI
    thread. The caller stops the worker when done."""
    first: list[Link] = [open_link(url, settings)]

    def link_factory() -> Link:
        return first.pop() if first else open_link(url, settings)

    worker = BusWorker(
        name,
        url,
        settings,
        meters,
        lambda _snapshot: None,
        policy=PollPolicy(retries=retries),
        poll=False,
        link_factory=link_factory,
    )
    worker.start()
    return worker
