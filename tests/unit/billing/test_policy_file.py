"""Balance-policy files and forms: DOMAIN.md's example reads to the expected values and is written
back as it stands; every rule is refused with a message naming the key; all problems of a file are
reported together; writing and reading back gives the same values (hypothesis); no amount is a
float."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing.file_problems import FileProblemsError, Problem
from app.billing.friendly_time import in_friendly_time
from app.billing.money import MINOR_UNITS
from app.billing.policy_file import (
    MAX_AMOUNT_MINOR,
    POLICY_KEYS,
    PolicyFileError,
    PolicyValues,
    PolicyWindow,
    dump_policy,
    parse_policy,
)
from app.billing.policy_form import policy_from_fields, policy_to_fields

# DOMAIN.md section 1, "Balance policy file format", exactly.
EXAMPLE = """\
name = "Student dormitory"
currency = "CNY"
alarm_1 = "20.00"                # first warning at or below this balance
alarm_2 = "5.00"                 # second warning
overdraft_limit = "0.00"         # supply continues down to -overdraft_limit; 0 = cut at zero
close_permit = "1.00"            # a cut-off account is restored at or above this balance
hoard_limit = "2000.00"          # optional: largest balance a recharge may reach
friendly_hours = [               # no cut inside these windows (to < from crosses midnight)
  { days = ["mon", "tue", "wed", "thu", "fri"], from = "22:00", to = "08:00" },
  { days = ["sat", "sun"], from = "00:00", to = "24:00" },
]
friendly_dates = [2026-10-01, 2026-10-02]
"""
EXPECTED = PolicyValues(
    name="Student dormitory",
    alarm_1_minor=2000,
    alarm_2_minor=500,
    overdraft_limit_minor=0,
    close_permit_minor=100,
    hoard_limit_minor=200_000,
    friendly_hours=(
        PolicyWindow((0, 1, 2, 3, 4), "22:00", "08:00"),
        PolicyWindow((5, 6), "00:00", "24:00"),
    ),
    friendly_dates=(date(2026, 10, 1), date(2026, 10, 2)),
)
MINIMAL = """\
name = "Staff"
alarm_1 = "50.00"
alarm_2 = "20.00"
overdraft_limit = "30.00"
close_permit = "0.00"
"""
MINIMAL_JPY = """\
name = "Staff"
alarm_1 = "5000"
alarm_2 = "2000"
overdraft_limit = "3000"
close_permit = "0"
"""
FORM = {
    "name": "Student dormitory",
    "alarm_1": "20",
    "alarm_2": "5.00",
    "overdraft_limit": "0",
    "close_permit": "1",
    "hoard_limit": "2,000.00",
    "friendly_hours_text": "mon-fri 22:00-08:00; sat,sun 00:00-24:00",
    "friendly_dates_text": "2026-10-01, 2026-10-02",
}


def with_line(key: str, line: str | None, text: str = EXAMPLE) -> str:
    """``text`` with the line of ``key`` replaced by ``line`` (removed when None)."""
    lines = text.splitlines()
    index = next(i for i, old in enumerate(lines) if old.startswith(f"{key} "))
    lines[index : index + 1] = [] if line is None else [line]
    return "\n".join(lines) + "\n"


def without_hours(text: str = EXAMPLE) -> str:
    """``text`` without its friendly_hours list (so a test can give its own)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("friendly_hours"))
    end = lines.index("]", start)
    return "\n".join(lines[:start] + lines[end + 1 :]) + "\n"


def with_hours(*windows: str) -> str:
    return without_hours() + "friendly_hours = [\n" + "".join(f"  {w},\n" for w in windows) + "]\n"


def problems_of(text: str, currency: str = "CNY") -> list[tuple[str, str]]:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "policy.toml", currency)
    error = info.value
    assert str(error) == "\n".join(
        f"policy.toml: {key}: {m}" if key else f"policy.toml: {m}" for key, m in error.pairs()
    )
    return error.pairs()


def only_problem(text: str, currency: str = "CNY") -> tuple[str, str]:
    problems = problems_of(text, currency)
    assert len(problems) == 1, problems
    return problems[0]


def form_problems(**changes: str) -> list[tuple[str, str]]:
    with pytest.raises(PolicyFileError) as info:
        policy_from_fields(**{**FORM, **changes}, currency="CNY")
    assert info.value.source == ""
    assert str(info.value) == "\n".join(f"{key}: {m}" for key, m in info.value.pairs())
    return info.value.pairs()


# -- DOMAIN.md's example ------------------------------------------------------------------------


def test_the_domain_example_reads_to_the_expected_values() -> None:
    assert parse_policy(EXAMPLE, "policy.toml", "CNY") == EXPECTED


def test_the_domain_example_is_written_back_as_it_stands() -> None:
    assert dump_policy(parse_policy(EXAMPLE, "policy.toml", "CNY"), "CNY") == EXAMPLE


def test_the_example_windows_are_friendly_where_domain_md_says() -> None:
    stored = parse_policy(EXAMPLE, "policy.toml", "CNY").to_stored()
    hours, dates = stored["friendly_hours"], stored["friendly_dates"]
    assert in_friendly_time(datetime(2026, 9, 4, 23, 0), hours, dates)  # type: ignore[arg-type]
    assert in_friendly_time(datetime(2026, 9, 5, 7, 59), hours, dates)  # type: ignore[arg-type]
    assert not in_friendly_time(datetime(2026, 9, 4, 12, 0), hours, dates)  # type: ignore[arg-type]
    assert in_friendly_time(datetime(2026, 10, 1, 12, 0), hours, dates)  # type: ignore[arg-type]


def test_optional_keys_may_be_left_out() -> None:
    values = parse_policy(MINIMAL, "policy.toml", "CNY")
    assert values == PolicyValues("Staff", 5000, 2000, 3000, 0, None, (), ())


def test_the_currency_key_may_be_left_out_and_amounts_use_the_site_currency() -> None:
    assert parse_policy(with_line("currency", None), "policy.toml", "CNY") == EXPECTED
    assert parse_policy(MINIMAL_JPY, "policy.toml", "JPY") == PolicyValues(
        "Staff", 5000, 2000, 3000, 0, None
    )


def test_no_amount_is_a_float() -> None:
    values = parse_policy(EXAMPLE, "policy.toml", "CNY")
    for name in ("alarm_1_minor", "alarm_2_minor", "overdraft_limit_minor", "close_permit_minor"):
        assert type(getattr(values, name)) is int
    assert type(values.hoard_limit_minor) is int
    assert not any(isinstance(v, float) for v in values.to_stored().values())


def test_days_and_dates_come_out_in_order_and_windows_in_file_order() -> None:
    text = with_hours(
        '{ days = ["SUN", "sat"], from = "00:00", to = "24:00" }',
        '{ days = ["fri", "mon"], from = "22:00", to = "08:00" }',
    )
    text = with_line("friendly_dates", "friendly_dates = [2026-10-02, 2026-10-01]", text)
    values = parse_policy(text, "policy.toml", "CNY")
    assert values.friendly_hours == (
        PolicyWindow((5, 6), "00:00", "24:00"),
        PolicyWindow((0, 4), "22:00", "08:00"),
    )
    assert values.friendly_dates == (date(2026, 10, 1), date(2026, 10, 2))


# -- amounts ----------------------------------------------------------------------------------


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    key, message = only_problem(with_line("alarm_2", 'alarm_2 = "5.000"'))
    assert key == "alarm_2"
    assert message.startswith('"5.000" has more than 2 decimal places for CNY')
    assert '"5.00"' in message


def test_decimals_are_counted_for_the_site_currency() -> None:
    key, message = only_problem(with_line("alarm_2", 'alarm_2 = "5.5"', MINIMAL_JPY), "JPY")
    assert key == "alarm_2"
    assert message.startswith('"5.5" has more than 0 decimal places for JPY')


@pytest.mark.parametrize("raw", ["20.0", "20", "2e1"])
def test_a_bare_number_is_refused_as_an_amount(raw: str) -> None:
    key, message = only_problem(with_line("alarm_1", f"alarm_1 = {raw}"))
    assert key == "alarm_1"
    assert " is a bare number, which cannot hold money exactly" in message
    assert 'write amounts as strings, e.g. "20.00"' in message


@pytest.mark.parametrize("raw", ['"abc"', '""', '"1e3"', "true", "[1]"])
def test_what_is_not_an_amount_is_refused(raw: str) -> None:
    key, message = only_problem(with_line("close_permit", f"close_permit = {raw}"))
    assert key == "close_permit"
    assert "is not an amount" in message


def test_an_absurdly_large_amount_is_refused() -> None:
    big = str(MAX_AMOUNT_MINOR)  # in units, so 100 times the limit in minor units
    key, message = only_problem(with_line("hoard_limit", f'hoard_limit = "{big}"'))
    assert key == "hoard_limit"
    assert "larger than any balance" in message


def test_alarm_2_above_alarm_1_is_refused_and_equal_is_fine() -> None:
    key, message = only_problem(with_line("alarm_2", 'alarm_2 = "20.01"'))
    assert key == "alarm_2"
    assert message.startswith('"20.01" is above alarm_1 ("20.00")')
    equal = with_line("alarm_2", 'alarm_2 = "20.00"')
    assert parse_policy(equal, "p", "CNY").alarm_2_minor == 2000


def test_a_warning_below_zero_is_refused_and_zero_is_fine() -> None:
    key, message = only_problem(with_line("alarm_2", 'alarm_2 = "-0.01"'))
    assert (key, message.split(";")[0]) == ("alarm_2", '"-0.01" is below zero')
    text = with_line("alarm_1", 'alarm_1 = "-1.00"', with_line("alarm_2", 'alarm_2 = "-2.00"'))
    assert sorted(key for key, _ in problems_of(with_line("hoard_limit", None, text))) == [
        "alarm_1",
        "alarm_2",
    ]
    assert parse_policy(with_line("alarm_2", 'alarm_2 = "0"'), "p", "CNY").alarm_2_minor == 0


def test_a_negative_overdraft_limit_is_refused() -> None:
    key, message = only_problem(with_line("overdraft_limit", 'overdraft_limit = "-5.00"'))
    assert key == "overdraft_limit"
    assert message.startswith('"-5.00" is below zero')


def test_close_permit_below_minus_overdraft_limit_is_refused() -> None:
    text = with_line("overdraft_limit", 'overdraft_limit = "10.00"')
    key, message = only_problem(with_line("close_permit", 'close_permit = "-10.01"', text))
    assert key == "close_permit"
    assert message.startswith('"-10.01" is below "-10.00"')
    at_floor = with_line("close_permit", 'close_permit = "-10.00"', text)
    assert parse_policy(at_floor, "p", "CNY").close_permit_minor == -1000


def test_hoard_limit_must_be_above_alarm_1() -> None:
    key, message = only_problem(with_line("hoard_limit", 'hoard_limit = "20.00"'))
    assert key == "hoard_limit"
    assert message.startswith('"20.00" is not above alarm_1 ("20.00")')
    above = with_line("hoard_limit", 'hoard_limit = "20.01"')
    assert parse_policy(above, "p", "CNY").hoard_limit_minor == 2001


def test_hoard_limit_below_close_permit_is_refused() -> None:
    text = with_line("close_permit", 'close_permit = "100.00"')
    key, message = only_problem(with_line("hoard_limit", 'hoard_limit = "99.99"', text))
    assert key == "hoard_limit"
    assert message.startswith('"99.99" is below close_permit ("100.00")')


def test_missing_amounts_are_named_with_an_example() -> None:
    text = with_line("close_permit", None, with_line("alarm_1", None))
    problems = problems_of(text)
    assert ("alarm_1", 'this key is missing; add it, e.g. alarm_1 = "20.00".') in problems
    assert ("close_permit", 'this key is missing; add it, e.g. close_permit = "1.00".') in problems


# -- name, currency, keys, syntax ---------------------------------------------------------------


def test_the_name_is_trimmed_and_may_have_80_characters() -> None:
    padded = with_line("name", f'name = "  {"x" * 80}  "')
    assert parse_policy(padded, "p", "CNY").name == "x" * 80


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (f'name = "{"x" * 81}"', "the name is 81 characters long; shorten it to 80"),
        ('name = "   "', "the name is empty"),
        ('name = "Block\\nA"', "control character"),
        ("name = 5", "5 is not a name"),
    ],
)
def test_an_unusable_name_is_refused(line: str, fragment: str) -> None:
    key, message = only_problem(with_line("name", line))
    assert key == "name"
    assert fragment in message


def test_a_missing_name_is_refused() -> None:
    assert only_problem(with_line("name", None))[0] == "name"


def test_a_file_in_another_currency_is_refused() -> None:
    key, message = only_problem(with_line("currency", 'currency = "USD"'))
    assert key == "currency"
    assert message.startswith('the file is in "USD" but this site bills in CNY')


def test_an_unknown_key_is_refused_with_the_known_keys() -> None:
    key, message = only_problem(EXAMPLE + 'alarm1 = "3.00"\n')
    assert key == "alarm1"
    assert "did you mean alarm_1?" in message
    assert ", ".join(POLICY_KEYS) in message
    key, message = only_problem(EXAMPLE + "colour = 1\n")
    assert key == "colour"
    assert ", ".join(POLICY_KEYS) in message


def test_bad_toml_is_reported_with_its_line_and_column() -> None:
    key, message = only_problem('name = "x"\nalarm_1 = "20.00\n')
    assert key == ""
    assert message.startswith("the file is not valid TOML at line 2, column")


def test_an_unknown_site_currency_is_reported_not_raised_as_something_else() -> None:
    key, message = only_problem(EXAMPLE, currency="XXX")
    assert key == "currency"
    assert "is not known" in message


# -- friendly hours and dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "key", "fragment"),
    [
        (
            '{ days = ["moon"], from = "22:00", to = "08:00" }',
            "friendly_hours[1].days",
            '"moon" is not a day; use mon, tue, wed, thu, fri, sat, sun',
        ),
        (
            '{ days = [], from = "22:00", to = "08:00" }',
            "friendly_hours[1].days",
            "no days are given",
        ),
        (
            '{ days = ["mon", "Mon"], from = "22:00", to = "08:00" }',
            "friendly_hours[1].days",
            '"Mon" is listed twice',
        ),
        (
            '{ days = [0], from = "22:00", to = "08:00" }',
            "friendly_hours[1].days",
            "0 is not a day",
        ),
        (
            '{ days = ["mon"], from = "24:00", to = "08:00" }',
            "friendly_hours[1].from",
            '"24:00" can only end a window',
        ),
        (
            '{ days = ["mon"], from = "22:00", to = "24:01" }',
            "friendly_hours[1].to",
            '"24:01" is not a time of day',
        ),
        (
            '{ days = ["mon"], from = "23:60", to = "08:00" }',
            "friendly_hours[1].from",
            '"23:60" is not a time of day',
        ),
        (
            '{ days = ["mon"], from = "7:00", to = "08:00" }',
            "friendly_hours[1].from",
            '"7:00" is not a time written as HH:MM',
        ),
        (
            '{ days = ["mon"], from = 22, to = "08:00" }',
            "friendly_hours[1].from",
            "22 is not a time",
        ),
        (
            '{ days = ["mon"], from = "08:00", to = "08:00" }',
            "friendly_hours[1].to",
            "the window starts and ends at",
        ),
        (
            '{ days = ["mon"], from = "08:00", to = "09:00", till = "09:00" }',
            "friendly_hours[1].till",
            "this key is not known",
        ),
        ('{ days = ["mon"], from = "08:00" }', "friendly_hours[1].to", "this key is missing"),
        ('"mon 22:00-08:00"', "friendly_hours[1]", "is not a window"),
    ],
)
def test_a_bad_window_is_refused_with_its_place(window: str, key: str, fragment: str) -> None:
    problems = problems_of(with_hours(window))
    assert [k for k, _ in problems] == [key]
    assert fragment in problems[0][1]


def test_windows_are_counted_from_one() -> None:
    text = with_hours(
        '{ days = ["mon"], from = "22:00", to = "08:00" }',
        '{ days = ["moon"], from = "22:00", to = "08:00" }',
    )
    assert only_problem(text)[0] == "friendly_hours[2].days"


def test_24_00_ends_a_window_and_a_window_to_midnight_is_fine() -> None:
    text = with_hours(
        '{ days = ["mon"], from = "22:00", to = "24:00" }',
        '{ days = ["tue"], from = "22:00", to = "00:00" }',
    )
    hours = parse_policy(text, "p", "CNY").friendly_hours
    assert [(w.start, w.end) for w in hours] == [("22:00", "24:00"), ("22:00", "00:00")]


def test_friendly_hours_must_be_a_list() -> None:
    key, message = only_problem(without_hours() + 'friendly_hours = "nights"\n')
    assert key == "friendly_hours"
    assert "is not a list of windows" in message


@pytest.mark.parametrize(
    ("dates", "key", "fragment"),
    [
        ("[2026-10-01, 2026-10-01]", "friendly_dates[2]", "2026-10-01 is listed twice"),
        ('[2026-10-01, "2026-10-02"]', "friendly_dates[2]", "write dates without quotes"),
        ("[2026-10-01T08:00:00]", "friendly_dates[1]", "is not a date"),
        ('"2026-10-01"', "friendly_dates", "is not a list of dates"),
    ],
)
def test_bad_dates_are_refused(dates: str, key: str, fragment: str) -> None:
    problems = problems_of(with_line("friendly_dates", f"friendly_dates = {dates}"))
    assert [k for k, _ in problems] == [key]
    assert fragment in problems[0][1]


# -- many problems at once, and the shape of a problem ------------------------------------------

BAD = """\
name = ""
currency = "USD"
alarm_1 = 20.0
alarm_2 = "5.000"
overdraft_limit = "-1"
hoard_limit = "abc"
alram_2 = "1"
friendly_hours = [{ days = ["moon"], from = "24:00", to = "08:00" }]
friendly_dates = [2026-10-01, 2026-10-01]
"""


def test_every_problem_of_a_file_is_reported_together() -> None:
    keys = [key for key, _ in problems_of(BAD)]
    assert sorted(keys) == sorted(
        [
            "alram_2",
            "close_permit",
            "name",
            "currency",
            "alarm_1",
            "alarm_2",
            "overdraft_limit",
            "hoard_limit",
            "friendly_hours[1].days",
            "friendly_hours[1].from",
            "friendly_dates[2]",
        ]
    )


def test_each_problem_is_a_sentence_built_from_a_template_with_named_values() -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(BAD, "bad.toml", "CNY")
    error = info.value
    assert isinstance(error, FileProblemsError)
    assert isinstance(error, ValueError)
    assert error.source == "bad.toml"
    assert error.lines() == [f"bad.toml: {problem}" for problem in error.problems]
    for problem in error.problems:
        assert isinstance(problem, Problem)
        assert problem.message == problem.template.format_map(problem.values)
        assert problem.message.endswith("."), problem
        assert (
            problem.message[0].islower()
            or problem.message[0] == '"'
            or problem.message[0].isdigit()
        )
        for value in problem.values.values():  # values are filled in, never woven into the text
            if len(value) > 3:
                assert value not in problem.template
    by_key = dict(error.pairs())
    assert by_key["alarm_2"].startswith('"5.000" has more than 2 decimal places for CNY')
    assert by_key["friendly_hours[1].days"].startswith('"moon" is not a day; use mon, tue,')


def test_a_problem_names_its_field() -> None:
    assert Problem("friendly_hours[2].days", "x.").field_name == "friendly_hours"
    assert Problem("alarm_1", "x.").field_name == "alarm_1"
    assert str(Problem("alarm_1", "{value} is bad.", {"value": '"1"'})) == 'alarm_1: "1" is bad.'


# -- writing ----------------------------------------------------------------------------------


def test_a_policy_without_hoard_limit_hours_or_dates_is_written_without_them() -> None:
    text = dump_policy(PolicyValues("Staff", 5000, 2000, 3000, 0, None), "CNY", comments=False)
    assert text == (
        'name = "Staff"\ncurrency = "CNY"\nalarm_1 = "50.00"\nalarm_2 = "20.00"\n'
        'overdraft_limit = "30.00"\nclose_permit = "0.00"\nfriendly_hours = []\n'
        "friendly_dates = []\n"
    )


def test_names_with_quotes_and_backslashes_are_escaped() -> None:
    values = dataclasses.replace(EXPECTED, name='Block "A" \\ east')
    assert parse_policy(dump_policy(values, "CNY"), "p", "CNY") == values


def test_many_dates_are_wrapped_to_100_columns() -> None:
    dates = tuple(date(2026, 1, day) for day in range(1, 32))
    text = dump_policy(dataclasses.replace(EXPECTED, friendly_dates=dates), "CNY")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert parse_policy(text, "p", "CNY").friendly_dates == dates


def test_stored_values_round_trip_and_read_the_demo_policy_form() -> None:
    stored = EXPECTED.to_stored()
    assert stored["friendly_hours"] == [
        {"days": [0, 1, 2, 3, 4], "from": "22:00", "to": "08:00"},
        {"days": [5, 6], "from": "00:00", "to": "24:00"},
    ]
    assert stored["friendly_dates"] == ["2026-10-01", "2026-10-02"]
    assert PolicyValues.from_stored(**stored) == EXPECTED  # type: ignore[arg-type]
    demo = PolicyValues.from_stored(
        name="Student dormitory",
        alarm_1_minor=2000,
        alarm_2_minor=1000,
        overdraft_limit_minor=0,
        close_permit_minor=500,
        hoard_limit_minor=200_000,
        friendly_hours=[{"days": [6, 0, 1, 2, 3, 4, 5], "from": "22:00", "to": "07:00"}],
        friendly_dates=["2026-10-02", "2026-10-01"],
    )
    assert demo.friendly_hours == (PolicyWindow((0, 1, 2, 3, 4, 5, 6), "22:00", "07:00"),)
    assert parse_policy(dump_policy(demo, "CNY"), "p", "CNY") == demo


# -- the form ---------------------------------------------------------------------------------


def test_the_form_reads_to_the_same_values_as_the_file() -> None:
    assert policy_from_fields(**FORM, currency="CNY") == EXPECTED


def test_the_form_is_filled_from_values() -> None:
    assert policy_to_fields(EXPECTED, "CNY") == {
        **FORM,
        "alarm_1": "20.00",
        "overdraft_limit": "0.00",
        "close_permit": "1.00",
        "hoard_limit": "2000.00",
    }


def test_the_form_reads_day_names_ranges_and_loose_times() -> None:
    values = policy_from_fields(
        **{
            **FORM,
            "hoard_limit": "",
            "friendly_hours_text": "Monday - Thursday 7:30-8:00\nfri-mon 22:00 – 6:00;;",
            "friendly_dates_text": "2026-10-02 2026-10-01",
        },
        currency="CNY",
    )
    assert values.hoard_limit_minor is None
    assert values.friendly_hours == (
        PolicyWindow((0, 1, 2, 3), "07:30", "08:00"),
        PolicyWindow((0, 4, 5, 6), "22:00", "06:00"),
    )
    assert values.friendly_dates == (date(2026, 10, 1), date(2026, 10, 2))


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"alarm_2": "5.001"}, "alarm_2", '"5.001" has more than 2 decimal places for CNY'),
        ({"alarm_1": ""}, "alarm_1", "the amount is empty"),
        ({"alarm_2": "21"}, "alarm_2", 'is above alarm_1 ("20.00")'),
        ({"hoard_limit": "12,50"}, "hoard_limit", "is not an amount"),
        ({"close_permit": "-0.01"}, "close_permit", 'is below "0.00"'),
        ({"name": ""}, "name", "the name is empty"),
        ({"friendly_hours_text": "moon 22:00-08:00"}, "friendly_hours[1]", '"moon" is not a day'),
        (
            {"friendly_hours_text": "mon-fri 22:00-08:00; mon-wed,tue 1:00-2:00"},
            "friendly_hours[2]",
            '"tue" is listed twice',
        ),
        ({"friendly_hours_text": "mon 24:00-08:00"}, "friendly_hours[1]", "can only end a window"),
        ({"friendly_hours_text": "mon 08:00-8:00"}, "friendly_hours[1]", "has no length"),
        ({"friendly_hours_text": "mon 22:00"}, "friendly_hours[1]", "does not end with a time"),
        ({"friendly_hours_text": "22:00-23:00"}, "friendly_hours[1]", "names no days"),
        ({"friendly_dates_text": "2026-10-01, 1.10.2026"}, "friendly_dates[2]", "is not a date"),
        ({"friendly_dates_text": "2026-02-30"}, "friendly_dates[1]", "is not a date"),
        ({"friendly_dates_text": "2026-10-01 2026-10-01"}, "friendly_dates[2]", "listed twice"),
    ],
)
def test_the_form_refuses_with_the_field_named(
    changes: dict[str, str], key: str, fragment: str
) -> None:
    problems = form_problems(**changes)
    assert [k for k, _ in problems] == [key]
    assert fragment in problems[0][1]


def test_the_form_reports_every_field_at_once() -> None:
    problems = form_problems(
        name=" ", alarm_1="x", overdraft_limit="-1", friendly_hours_text="moon 1:00-2:00"
    )
    assert [key for key, _ in problems] == [
        "name",
        "alarm_1",
        "overdraft_limit",
        "friendly_hours[1]",
    ]


# -- round trips (hypothesis) -------------------------------------------------------------------

CURRENCIES = ["CNY", "JPY"]
NAME_CHARS = st.characters(blacklist_categories=("Cc", "Cs"))


@st.composite
def windows(draw: st.DrawFn) -> PolicyWindow:
    days = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1))))
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(0, 24 * 60).filter(lambda minute: minute != start))
    return PolicyWindow(
        days, f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"
    )


@st.composite
def policies(draw: st.DrawFn) -> PolicyValues:
    """Any valid policy, as the parsers give them (days and dates in order)."""
    top = 10**12
    alarm_2 = draw(st.integers(0, top))
    alarm_1 = draw(st.integers(alarm_2, top))
    overdraft = draw(st.integers(0, top))
    permit = draw(st.integers(-overdraft, top))
    hoard = draw(st.none() | st.integers(max(alarm_1 + 1, permit), MAX_AMOUNT_MINOR))
    name = draw(st.text(NAME_CHARS, min_size=1, max_size=80).map(str.strip).filter(bool))
    hours = tuple(draw(st.lists(windows(), max_size=4)))
    dates = tuple(sorted(draw(st.sets(st.dates(), max_size=8))))
    return PolicyValues(name, alarm_1, alarm_2, overdraft, permit, hoard, hours, dates)


@settings(max_examples=300, deadline=None)
@given(policies(), st.sampled_from(CURRENCIES), st.booleans())
def test_what_is_written_reads_back_the_same(
    values: PolicyValues, currency: str, comments: bool
) -> None:
    text = dump_policy(values, currency, comments=comments)
    assert parse_policy(text, "p", currency) == values
    assert dump_policy(parse_policy(text, "p", currency), currency, comments=comments) == text


@settings(max_examples=300, deadline=None)
@given(policies(), st.sampled_from(CURRENCIES))
def test_what_a_form_is_filled_with_reads_back_the_same(
    values: PolicyValues, currency: str
) -> None:
    assert policy_from_fields(**policy_to_fields(values, currency), currency=currency) == values


@settings(max_examples=100, deadline=None)
@given(policies())
def test_stored_values_read_back_the_same_and_hold_no_float(values: PolicyValues) -> None:
    stored = values.to_stored()
    assert PolicyValues.from_stored(**stored) == values  # type: ignore[arg-type]
    assert not any(isinstance(value, float) for value in stored.values())


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(CURRENCIES))
def test_an_amount_reads_to_exact_minor_units(data: st.DataObject, currency: str) -> None:
    digits = MINOR_UNITS[currency]
    amount: Decimal = data.draw(
        st.decimals(min_value=-(10**6), max_value=10**6, places=digits), label="amount"
    )
    text = with_line("alarm_1", f'alarm_1 = "{amount}"', MINIMAL_JPY)
    text = with_line("alarm_2", 'alarm_2 = "0"', text)
    if amount < 0:
        assert [key for key, _ in problems_of(text, currency)] == ["alarm_1"]
    else:
        minor = parse_policy(text, "p", currency).alarm_1_minor
        assert type(minor) is int
        assert minor == amount.scaleb(digits)
