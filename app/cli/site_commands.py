"""``site init|set|show`` (and, beside them, ``building`` and ``room``): the site and its
layout from the command line. Exit codes as ``app.cli.steps`` says."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from sqlalchemy.orm import Session

from app.cli.context import fail
from app.cli.steps import print_json, run_query, run_step
from app.queries.site_layout import (
    BuildingRow,
    RoomRow,
    list_buildings,
    list_rooms,
)
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.site_layout import (
    RoomPlan,
    add_building,
    add_room,
    change_room,
    generate_rooms,
    plan_rooms,
    rename_building,
    retire_building,
    retire_room,
)
from app.services.site_setup import SiteDetails, change_site, init_site, site_details
from app.store.database import Database
from app.vocabulary import ExitCode

SITE_FIELDS = ("name", "timezone", "currency", "address", "receipt_header")


def _header(text: str | None) -> str | None:
    """The receipt header as typed: a literal \\n (what a shell passes) is a new line."""
    return None if text is None else text.replace("\\n", "\n")


def cmd_init(args: argparse.Namespace) -> int:
    details = SiteDetails(
        args.name,
        args.timezone,
        args.currency,
        args.address or "",
        _header(args.receipt_header) or "",
    )

    def step(session: Session, who: SignedIn) -> SiteDetails:
        return init_site(session, who, details)

    return run_step(
        args,
        Action.EDIT_SITE,
        step,
        lambda d: (
            f"Site {d.name!r} set up: {d.timezone}, {d.currency}. Next: buildings and "
            "rooms ('main.py building add', 'main.py room generate') or a workbook "
            "('main.py site import')."
        ),
        create=True,
    )


def cmd_set(args: argparse.Namespace) -> int:
    changes = {f: getattr(args, f) for f in SITE_FIELDS if getattr(args, f, None) is not None}
    if not changes:
        return fail(
            "nothing to change: give --name, --timezone, --currency, --address or "
            "--receipt-header.",
            ExitCode.USAGE,
        )
    if "receipt_header" in changes:
        changes["receipt_header"] = _header(changes["receipt_header"])

    def step(session: Session, who: SignedIn) -> SiteDetails:
        return change_site(session, who, **changes)

    return run_step(args, Action.EDIT_SITE, step, lambda d: f"Site {d.name!r}: saved.")


def cmd_show(args: argparse.Namespace) -> int:
    def show(details: SiteDetails | None) -> None:
        if details is None:
            print("There is no site in this database yet: 'main.py site init'.")
            return
        if args.json:
            print_json(asdict(details))
            return
        for key, value in asdict(details).items():
            print(f"{key:<15} {value}")

    return run_query(args, site_details, show)


# -- buildings ---------------------------------------------------------------------------------


def cmd_building_add(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: add_building(session, who, args.name, args.code or ""),
        lambda b: f"Building {b.name} added (code {b.code}: rooms read {b.code}-101...).",
    )


def cmd_building_rename(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: rename_building(
            session, who, args.building, name=args.name, code=args.code
        ),
        lambda b: f"Building {b.name} (code {b.code}) saved.",
    )


def cmd_building_retire(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: retire_building(session, who, args.building),
        lambda outcome: f"Building {args.building} {outcome}.",
    )


def cmd_building_list(args: argparse.Namespace) -> int:
    def show(rows: list[BuildingRow]) -> None:
        if args.json:
            print_json([asdict(r) for r in rows])
            return
        for r in rows:
            retired = " (retired)" if r.retired_at else ""
            print(f"{r.code:<6} {r.name:<30} {r.rooms:>5} rooms, {r.floors} floors{retired}")

    return run_query(args, lambda db: list_buildings(db, retired=args.all), show)


# -- rooms -------------------------------------------------------------------------------------


def cmd_room_add(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: add_room(
            session, who, args.building, args.floor, args.room, args.note or ""
        ),
        lambda r: f"Room {r.label} added.",
    )


def _plans_text(plans: list[RoomPlan], *, done: bool) -> str:
    new = [p.label for p in plans if not p.exists]
    there = len(plans) - len(new)
    verb = "added" if done else "would be added"
    head = f"{len(new)} rooms {verb}" + (f", {there} already there" if there else "")
    if not new:
        return head + "."
    shown = new if len(new) <= 12 else [*new[:6], "...", *new[-3:]]
    return f"{head}: {', '.join(shown)}."


def cmd_room_generate(args: argparse.Namespace) -> int:
    if args.dry_run:

        def read(db: Database) -> list[RoomPlan]:
            with db.session() as session:
                return plan_rooms(session, args.building, args.floors, args.rooms)

        return run_query(
            args, read, lambda plans: print(_plans_text(plans, done=False) + " Nothing changed.")
        )
    if not args.user:
        return fail(
            "--user: say who adds the rooms (or look first with --dry-run).", ExitCode.USAGE
        )
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: generate_rooms(session, who, args.building, args.floors, args.rooms),
        lambda plans: _plans_text(plans, done=True),
    )


def cmd_room_change(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: change_room(
            session, who, args.room, number=args.number, floor=args.floor, note=args.note
        ),
        lambda r: f"Room {r.label} saved.",
    )


def cmd_room_retire(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_LAYOUT,
        lambda session, who: retire_room(session, who, args.room),
        lambda outcome: f"Room {args.room} {outcome}.",
    )


def cmd_room_list(args: argparse.Namespace) -> int:
    def show(rows: list[RoomRow]) -> None:
        if args.json:
            print_json([asdict(r) for r in rows])
            return
        for r in rows:
            who = f"{r.account} {r.holder}" if r.account else "vacant"
            retired = " (retired)" if r.retired_at else ""
            print(f"{r.label:<12} floor {r.floor:<4} {r.meters} meters  {who}{retired}")

    return run_query(args, lambda db: list_rooms(db, args.building, retired=args.all), show)
