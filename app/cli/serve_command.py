"""``serve``: run polling (and, as the billing issue lands, billing and control) headless."""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from types import FrameType

from app.cli.context import data_dir_of, fail, open_database
from app.runtime.runtime import DEMO_INTERVAL_S, DEMO_POSTING_S, Runtime, RuntimeOptions
from app.runtime.usage_billing import DEFAULT_POSTING_S
from app.store.errors import StoreError
from app.store.migrate import require_current


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        db = open_database(args, data_dir_of(args, demo=args.demo))
        require_current(db)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    runtime = Runtime(
        db,
        RuntimeOptions(
            simulate=not args.no_simulate,
            time_scale=args.time_scale,
            interval_s=args.interval or (DEMO_INTERVAL_S if args.demo else 900),
            posting_s=args.post_every or (DEMO_POSTING_S if args.demo else DEFAULT_POSTING_S),
        ),
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    runtime.start()
    for problem in runtime.problems:
        print(f"warning: {problem}")
    print(
        f"Serving {len(runtime.workers)} buses, "
        f"{sum(len(w.meters) for w in runtime.workers)} meters from {db.display_name}; "
        "Ctrl+C stops.",
        flush=True,
    )
    try:
        stop.wait(args.seconds)
    finally:
        runtime.stop()
        db.dispose()
    counters = [c for w in runtime.workers for c in w.stats.counters()]
    totals = runtime.engine.totals
    print(
        json.dumps(
            {
                "seconds": round(time.monotonic() - started, 1),
                "buses": len(runtime.workers),
                "meters": len(counters),
                "meters_online": sum(1 for c in counters if c.online),
                "polls": sum(c.polls for c in counters),
                "failed_polls": sum(c.failed_polls for c in counters),
                "snapshots_stored": totals.snapshots,
                "interval_readings": totals.readings,
                "held_readings": totals.held,
                "readings_rated": runtime.billing.totals.rated,
                "usage_postings": runtime.billing.totals.postings,
                "fees_charged": runtime.fees.posted,
            }
        )
    )
    return 0
