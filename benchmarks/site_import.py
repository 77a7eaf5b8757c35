"""How long an office waits to import a whole site: a workbook of 20,000 rooms (4 buildings x 20
floors x 250 rooms), 100 buses, 20,000 meters and 20,000 tenants with opening balances, into an
empty site in a temporary SQLite file (WAL), then the same workbook again (nothing changes).

Measured: reading the .xlsx (openpyxl, streaming), planning it against the site (every rule of
every row) and applying it in one transaction; the peak memory of the process (ru_maxrss) over
the whole import. Bounds: 60 s and 1 GB for the import. The second import must change nothing,
and ``ledger verify`` must pass (20,000 opening-balance receipts numbered without a gap); exits
non-zero when a bound is missed or the work was wrong. ``--csv`` imports a folder of CSV files
instead of the .xlsx; ``--rooms N`` another size: a multiple of 400 up to 79,600, so that the
rooms fill the 80 floors (4 buildings x 20) evenly, at most 999 a floor, and the meters fill
buses of 200 exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.documents.site_workbook import read_workbook, write_workbook
from app.services.ledger_verify import verify_ledger
from app.services.operators import set_up_first_admin
from app.services.policy_setup import import_policy
from app.services.setup_checks import in_transaction
from app.services.site_import import import_workbook
from app.services.site_setup import SiteDetails, init_site
from app.services.tariff_library import import_tariff_file
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade

BOUND_S = 60.0
BOUND_MB = 1024.0
BUILDINGS = 4
FLOORS = 20
METERS_PER_BUS = 200
ROOMS_STEP = 400  # the least common multiple of BUILDINGS * FLOORS and METERS_PER_BUS
MAX_ROOMS = 79_600  # the largest such multiple with at most 999 rooms a floor (numbered 001-999)
TARIFF = """name = "Dormitory single rate"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-01-01
price = "0.6000"
"""
POLICY = """name = "Students"
alarm_1 = "20.00"
alarm_2 = "5.00"
overdraft_limit = "0.00"
close_permit = "1.00"
"""


def sheets(rooms: int) -> dict[str, list[dict[str, str]]]:
    per_floor = rooms // (BUILDINGS * FLOORS)
    room_rows: list[dict[str, str]] = []
    meter_rows: list[dict[str, str]] = []
    tenant_rows: list[dict[str, str]] = []
    for b in range(BUILDINGS):
        code = chr(ord("A") + b)
        for floor in range(1, FLOORS + 1):
            for n in range(1, per_floor + 1):
                number = f"{floor}{n:03d}"
                label = f"{code}-{number}"
                i = len(room_rows)
                room_rows.append(
                    {"building": f"Block {code}", "floor": str(floor), "room": number, "note": ""}
                )
                meter_rows.append(
                    {
                        "serial": f"E{i + 1:06d}",
                        "utility": "electricity",
                        "room": label,
                        "bus": f"Line {i // METERS_PER_BUS + 1:03d}",
                        "address": str(i % METERS_PER_BUS + 1),
                        "profile": "hiking-dds238",
                        "multiplier": "1",
                        "initial_reading": f"{i % 5000}.{i % 100:02d}",
                    }
                )
                tenant_rows.append(
                    {
                        "room": label,
                        "holder": f"Student {i + 1}",
                        "holder_ref": f"S{i + 1:06d}",
                        "phone": "",
                        "tariffs": "Dormitory single rate",
                        "policy": "Students",
                        "opening_balance": f"{(i % 200) + 1}.50",
                    }
                )
    buses = [
        {
            "bus": f"Line {n + 1:03d}",
            "port": f"socket://10.0.{n // 200}.{n % 200 + 1}:4001",
            "baud": "9600",
            "parity": "N",
            "stopbits": "1",
            "profile": "hiking-dds238",
            "enabled": "yes",
        }
        for n in range(len(meter_rows) // METERS_PER_BUS)
    ]
    return {"rooms": room_rows, "buses": buses, "meters": meter_rows, "tenants": tenant_rows}


def room_count(text: str) -> int:
    """``--rooms``: a positive multiple of ROOMS_STEP, or a usage error that says why."""
    try:
        rooms = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 < rooms <= MAX_ROOMS or rooms % ROOMS_STEP:
        raise argparse.ArgumentTypeError(
            f"{rooms} is not a multiple of {ROOMS_STEP} from {ROOMS_STEP} to {MAX_ROOMS:,}: the "
            f"rooms are spread evenly over {BUILDINGS * FLOORS} floors ({BUILDINGS} buildings x "
            f"{FLOORS}), at most 999 a floor, and their meters fill buses of {METERS_PER_BUS} "
            "(e.g. 400, 2000, 20000)"
        )
    return rooms


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument(
        "--rooms",
        type=room_count,
        default=20_000,
        help=f"a multiple of {ROOMS_STEP}, up to {MAX_ROOMS:,}",
    )
    options.add_argument("--csv", action="store_true", help="a folder of CSV files")
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = folder / ("site" if args.csv else "site.xlsx")
        made = time.perf_counter()
        write_workbook(book, sheets(args.rooms))
        print(
            f"workbook of {args.rooms:,} rooms written in {time.perf_counter() - made:.1f} s "
            "(not measured)"
        )
        db = Database(sqlite_url_for(folder / "db"))
        (folder / "db").mkdir()
        upgrade(db)
        admin = set_up_first_admin(db, "admin", "Admin", "benchmark-password")
        in_transaction(db, init_site, admin, SiteDetails("Benchmark site", "Asia/Shanghai", "CNY"))
        in_transaction(db, import_tariff_file, admin, TARIFF, "tariff.toml")
        in_transaction(db, import_policy, admin, POLICY, "policy.toml")
        digest = hashlib.sha256(str(book).encode()).hexdigest()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        start = time.perf_counter()
        workbook = read_workbook(book)
        read_s = time.perf_counter() - start
        done = import_workbook(db, admin, workbook, source=book.name, digest=digest)
        total_s = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        again = time.perf_counter()
        second = import_workbook(db, admin, read_workbook(book), source=book.name, digest=digest)
        again_s = time.perf_counter() - again
        report = verify_ledger(db)
        db.dispose()

    counts = done.plan.counts()
    added = {sheet: c["add"] for sheet, c in counts.items()}
    print(f"import of {book.name}: {added}")
    print(f"  read {read_s:.1f} s, plan and apply {total_s - read_s:.1f} s")
    print(f"  total {total_s:.1f} s against {BOUND_S:.0f} s: ratio {total_s / BOUND_S:.2f}")
    print(
        f"  peak memory {peak_mb:.0f} MB (before the import {rss_before:.0f} MB) against "
        f"{BOUND_MB:.0f} MB: ratio {peak_mb / BOUND_MB:.2f}"
    )
    print(
        f"  the same workbook again: {'nothing changed' if not second.applied else 'CHANGED'} "
        f"in {again_s:.1f} s"
    )
    print(f"  ledger verify: {'OK' if report.ok else 'FAILED'} ({len(done.openings):,} receipts)")
    wrong = (
        second.applied
        or not report.ok
        or added
        != {
            "rooms": args.rooms,
            "buses": args.rooms // METERS_PER_BUS,
            "meters": args.rooms,
            "tenants": args.rooms,
        }
    )
    if wrong:
        print("the import's work was wrong", file=sys.stderr)
        return 1
    return 0 if total_s <= BOUND_S and peak_mb <= BOUND_MB else 1


if __name__ == "__main__":
    sys.exit(main())
