"""``main.py tariff check`` and ``tariff quote`` as separate processes: output and exit codes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import REPO

RunMain = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[[subprocess.CompletedProcess[str]], str]

TARIFFS = REPO / "resources" / "tariffs"
TOU = TARIFFS / "tou-electricity.toml"

BAD_TARIFF = """\
name = "Broken"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-09-01

[tou]
periods = { peak = "0.8000", valley = 0.25 }
weekday = [["00:00","08:00","valley"], ["07:00","20:00","peek"]]
"""


def test_check_says_ok_with_name_and_kinds(run_main: RunMain) -> None:
    proc = run_main("tariff", "check", str(TOU))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"{TOU}: ok — Apartment time-of-use electricity, time of use (peak, flat, valley; "
        "1 season), fee 'Meter service fee' 5.00 per month\n"
    )
    assert proc.stderr == ""


@pytest.mark.parametrize("name", ["dorm-electricity.toml", "tiered-water.toml"])
def test_check_accepts_every_shipped_tariff(run_main: RunMain, name: str) -> None:
    proc = run_main("tariff", "check", str(TARIFFS / name))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{TARIFFS / name}: ok — ")


def test_check_lists_every_mistake(tmp_path: Path, run_main: RunMain) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BAD_TARIFF, encoding="utf-8")
    proc = run_main("tariff", "check", str(path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f'error: {path}: tou.periods.valley: 0.25 is a bare number; write it in quotes, "0.25", '
        "so the price stays exact (amounts and quantities are text in tariff files).",
        f"error: {path}: tou.weekday[2] period: unknown period 'peek'; "
        "tou.periods has peak, valley.",
        f"error: {path}: tou.weekday: bands 00:00-08:00 valley and 07:00-20:00 peek overlap at "
        "07:00-08:00; each time of day belongs to one band.",
        f"error: {path}: tou.weekday: nothing covers 20:00-24:00; the bands must cover "
        "00:00-24:00 without gaps.",
    ]


def test_check_of_a_missing_file_is_exit_2(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    proc = run_main("tariff", "check", str(tmp_path / "nowhere.toml"))
    assert proc.returncode == 2
    assert "cannot read" in one_line_error(proc)


def test_quote_json_is_exact(tmp_path: Path, run_main: RunMain) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text(
        "start,end,quantity\n"
        "2026-09-08T21:00,2026-09-09T01:00,8\n"  # 21-22 peak, 22-01 valley: 2 kWh an hour
        "2026-09-09T12:00,2026-09-09T13:30,1.5\n"  # flat
        "2026-10-01T09:00,2026-10-01T10:00,2\n",  # a holiday: valley
        encoding="utf-8",
    )
    proc = run_main("tariff", "quote", "--tariff", str(TOU), "--usage", str(usage), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    assert json.loads(proc.stdout) == {
        "currency": "CNY",
        "total": "14.35",
        "lines": [
            {
                "kind": "energy",
                "period": "peak",
                "tier": None,
                "quantity": "2",
                "unit_price": "0.8800",
                "amount": "1.76",
            },
            {
                "kind": "energy",
                "period": "flat",
                "tier": None,
                "quantity": "1.5",
                "unit_price": "0.5500",
                "amount": "0.83",  # 0.825 rounded half up
            },
            {
                "kind": "energy",
                "period": "valley",
                "tier": None,
                "quantity": "8",
                "unit_price": "0.2200",
                "amount": "1.76",
            },
            {
                "kind": "fee",
                "period": None,
                "tier": None,
                "quantity": "2",
                "unit_price": "5.00",
                "amount": "10.00",
            },
        ],
    }


def test_quote_with_cycle_used_and_a_table(tmp_path: Path, run_main: RunMain) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-01T00:00,2026-10-01T00:00,15\n", encoding="utf-8")  # no header
    water = TARIFFS / "tiered-water.toml"
    args = ["tariff", "quote", "--tariff", str(water), "--usage", str(usage)]
    as_json = run_main(*args, "--cycle-used", "2", "--json")
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert [(line["tier"], line["quantity"], line["amount"]) for line in result["lines"]] == [
        (1, "4", "14.00"),
        (2, "6", "31.50"),
        (3, "5", "45.00"),
    ]
    assert result["total"] == "90.50"
    table = run_main(*args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "Usage 2026-09-01 00:00:00 to 2026-10-01 00:00:00"
    assert lines[1].split() == [
        "kind",
        "period",
        "tier",
        "quantity",
        "(m3)",
        "unit",
        "price",
        "amount",
    ]
    assert lines[2].split() == ["energy", "-", "1", "6", "3.5000", "21.00"]
    assert lines[-1].split() == ["total", "79.50", "CNY"]


def test_quote_reports_every_bad_row_with_its_line(tmp_path: Path, run_main: RunMain) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text(
        "start,end,quantity\n"
        "2026-09-01T00:00,2026-09-01T01:00,1\n"
        "2026-09-01T01:00,2026-09-01T02:00,lots\n"
        "2026-09-01T03:00,2026-09-01T02:00,1\n"
        "\n"
        "2026-09-01T04:00,2026-09-01T05:00\n",
        encoding="utf-8",
    )
    proc = run_main("tariff", "quote", "--tariff", str(TOU), "--usage", str(usage))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"error: {usage} line 3: quantity: 'lots' is not a number; type a number such as 12.50.",
        f"error: {usage} line 4: ends at 2026-09-01 02:00:00 but starts at 2026-09-01 03:00:00; "
        "the end must be later.",
        f"error: {usage} line 6: expected 3 fields start,end,quantity, got 2.",
    ]


def test_quote_reports_a_bad_time_and_overlapping_rows(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-01 08:00,1 Sept,1\n", encoding="utf-8")
    proc = run_main("tariff", "quote", "--tariff", str(TOU), "--usage", str(usage))
    assert proc.returncode == 1
    assert one_line_error(proc) == (
        f"error: {usage} line 1: end '1 Sept' is not a date-time; write it like 2026-09-01T08:00."
    )
    usage.write_text(
        "2026-09-01T08:00,2026-09-01T10:00,1\n2026-09-01T09:00,2026-09-01T11:00,1\n",
        encoding="utf-8",
    )
    proc = run_main("tariff", "quote", "--tariff", str(TOU), "--usage", str(usage))
    assert proc.returncode == 1
    message = one_line_error(proc)
    assert message.startswith(
        f"error: {usage} line 2: 2026-09-01 09:00:00-2026-09-01 11:00:00 overlaps"
    )


def test_quote_with_a_broken_tariff_lists_its_mistakes(tmp_path: Path, run_main: RunMain) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BAD_TARIFF, encoding="utf-8")
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-01T08:00,2026-09-01T10:00,1\n", encoding="utf-8")
    proc = run_main("tariff", "quote", "--tariff", str(path), "--usage", str(usage), "--json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 4


def test_quote_over_two_versions(tmp_path: Path, run_main: RunMain) -> None:
    old = tmp_path / "old.toml"
    new = tmp_path / "new.toml"
    head = 'name = "Flat"\nutility = "electricity"\nunit = "kWh"\ncurrency = "CNY"\n'
    old.write_text(head + 'effective_from = 2026-09-01\nprice = "0.5000"\n', encoding="utf-8")
    new.write_text(head + 'effective_from = 2026-10-01\nprice = "0.6000"\n', encoding="utf-8")
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-30T12:00,2026-10-01T12:00,24\n", encoding="utf-8")
    args = ["tariff", "quote", "--tariff", str(new), "--tariff", str(old), "--usage", str(usage)]
    proc = run_main(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(line["unit_price"], line["amount"]) for line in result["lines"]] == [
        ("0.5000", "6.00"),
        ("0.6000", "7.20"),
    ]
    assert result["total"] == "13.20"
    usage.write_text("2026-08-31T12:00,2026-09-01T12:00,24\n", encoding="utf-8")
    early = run_main(*args)
    assert early.returncode == 1
    assert "No tariff version is in force on 2026-08-31" in early.stderr


def test_quote_refuses_a_negative_cycle_used(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("", encoding="utf-8")
    proc = run_main(
        "tariff", "quote", "--tariff", str(TOU), "--usage", str(usage), "--cycle-used", "-1"
    )
    assert proc.returncode == 2
    assert "--cycle-used" in one_line_error(proc)
