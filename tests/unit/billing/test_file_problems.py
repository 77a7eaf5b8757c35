"""``app.billing.file_problems``: a problem's message speaks the site's language."""

from __future__ import annotations

import pytest

from app import i18n
from app.billing.file_problems import FileProblemsError, Problem


def test_a_problem_is_translated_before_its_values_go_in(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str]] = []

    def backend(context: str, text: str) -> str:
        asked.append((context, text))
        return text.replace("is not an amount", "n'est pas un montant")

    monkeypatch.setattr(i18n, "_backend", backend)
    problem = Problem("alarm_1", "{value} is not an amount.", {"value": '"is not an amount"'})
    assert problem.message == '"is not an amount" n\'est pas un montant.'
    assert asked == [("file_problems", "{value} is not an amount.")]
    assert FileProblemsError("p.toml", [problem]).pairs() == [("alarm_1", problem.message)]


def test_without_a_translator_the_template_is_used_as_written() -> None:
    problem = Problem("", "{reason}", {"reason": "alarm_2 is above alarm_1"})
    assert problem.message == "alarm_2 is above alarm_1"
    assert str(problem) == "alarm_2 is above alarm_1"
