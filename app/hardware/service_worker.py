"""A bus worker that does not poll: it carries a technician's requests (the Diagnostics dialog,
the ``field`` commands) to a port that the console's runtime does not poll.

The port opens here, on the caller's thread, so a wrong name or a dead gateway is reported
before any thread starts; after a later fault the worker reopens it by itself. One port, one
worker: opening a port again first stops the service worker that had it and waits until it has
let go (it finishes its current request first), so two never talk on one line at once.
"""

from __future__ import annotations

import threading

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.errors import PortUnavailable
from app.hardware.link import LineSettings, Link
from app.hardware.transport import open_link

LET_GO_S = 15.0  # longest a request can take (timeout x retries); then the port is refused

_lock = threading.Lock()  # held while a port is being opened: opens happen one at a time
_holders: dict[str, BusWorker] = {}  # the last service worker started on each port


def open_service_worker(
    name: str, url: str, settings: LineSettings, meters: list[BusMeter], *, retries: int = 0
) -> BusWorker:
    """Open ``url`` with ``settings`` (``PortUnavailable`` when it cannot be, or while another
    service worker still holds it) and start a worker on it that serves requests only. Blocks
    while the port opens: call it off the GUI thread. The caller stops the worker when done."""
    with _lock:
        holder = _holders.get(url)
        if holder is not None and holder.alive:
            holder.stop(timeout=LET_GO_S)
            if holder.alive:
                raise PortUnavailable(
                    f"cannot open {url}: its last user is still busy on it; try again shortly"
                )
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
        _holders[url] = worker
        return worker
