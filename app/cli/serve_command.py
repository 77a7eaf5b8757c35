"""``serve``: poll, bill and control the site's buses headless, or stand by for them."""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from types import FrameType

from app.cli.context import data_dir_of, fail, open_database
from app.queries.field_owners import OwnerRow, field_owners
from app.runtime.ownership import ClaimRound
from app.runtime.runtime import DEMO_INTERVAL_S, DEMO_POSTING_S, Runtime, RuntimeOptions
from app.runtime.usage_billing import DEFAULT_POSTING_S
from app.services.field_setup import load_field_setup
from app.store.database import Database
from app.store.errors import StoreError
from app.store.field_lock import SITE_UNIT, bus_unit
from app.store.migrate import require_current


def _chosen_buses(db: Database, wanted: frozenset[str] | None) -> frozenset[str] | None:
    """``--buses`` as the site spells them (names compare without case); a name the site does
    not poll is refused."""
    if wanted is None:
        return None
    names = {bus.name.lower(): bus.name for bus in load_field_setup(db)}
    unknown = sorted(name for name in wanted if name.lower() not in names)
    if unknown:
        known = ", ".join(sorted(names.values())) or "none"
        raise ValueError(
            f"--buses names {', '.join(repr(n) for n in unknown)}, which the site does not poll "
            f"(enabled buses: {known}). Check the names with 'main.py bus list'."
        )
    return frozenset(names[name.lower()] for name in wanted)


def _who(owner: OwnerRow) -> str:
    since = owner.since.astimezone().isoformat(timespec="seconds")
    verb = "held" if owner.is_site else "polled"
    return f"{verb} by {owner.role} on {owner.host} (process {owner.pid}) since {since}"


def standby_lines(runtime: Runtime) -> list[str]:
    """What this runtime waits for, and who holds it now."""
    rows = {owner.unit: owner for owner in field_owners(runtime.db)}
    setup = load_field_setup(runtime.db)
    names = {bus_unit(bus.bus_id): bus.name for bus in setup}
    held = runtime.ownership.held
    lines = []
    for unit in runtime.ownership.wanted({bus.name: bus.bus_id for bus in setup}):
        if unit in held:
            continue
        what = "the site's duties (fees, supply)" if unit == SITE_UNIT else f"bus {names[unit]}"
        owner = rows.get(unit)
        who = _who(owner) if owner is not None else "held by another MeterDesk"
        lines.append(f"Standby for {what}: {who}; takes over within seconds if that one stops.")
    return lines


def _claims_printer(runtime: Runtime) -> None:
    def show(round_: ClaimRound) -> None:  # on the money watch's thread
        names = {bus_unit(bus.bus_id): bus.name for bus in load_field_setup(runtime.db)}

        def named(units: frozenset[str]) -> str:
            return ", ".join(
                "the site's duties" if u == SITE_UNIT else f"bus {names.get(u, u)}"
                for u in sorted(units)
            )

        at = time.strftime("%H:%M:%S")
        if round_.gained:
            print(f"{at} Took over {named(round_.gained)}.", flush=True)
        if round_.lost:
            print(
                f"{at} Lost {named(round_.lost)} with the database connection: their polling "
                "stopped until this runtime holds them again.",
                flush=True,
            )

    runtime.on_claims = show


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        db = open_database(args, data_dir_of(args, demo=args.demo))
        require_current(db)
        buses = _chosen_buses(db, args.buses)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except ValueError as exc:
        return fail(str(exc), 2)
    runtime = Runtime(
        db,
        RuntimeOptions(
            simulate=not args.no_simulate,
            time_scale=args.time_scale,
            interval_s=args.interval or (DEMO_INTERVAL_S if args.demo else 900),
            posting_s=args.post_every or (DEMO_POSTING_S if args.demo else DEFAULT_POSTING_S),
            buses=buses,
            role="serve",
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
    waiting = standby_lines(runtime)
    if runtime.workers or not waiting:
        print(
            f"Serving {len(runtime.workers)} buses, "
            f"{sum(len(w.meters) for w in runtime.workers)} meters from {db.display_name}; "
            "Ctrl+C stops.",
            flush=True,
        )
    else:
        print(f"Standing by on {db.display_name}; Ctrl+C stops.", flush=True)
    for line in waiting:
        print(line, flush=True)
    _claims_printer(runtime)
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
