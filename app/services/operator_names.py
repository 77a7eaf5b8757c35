"""Operator names as people see them: one spelling per name, nothing hidden in it.

A user name is compared as it looks, not as it is typed: "admin" typed in full-width letters
(U+FF41...) is NFKC ``admin``, so it cannot become a second "admin" beside the real one, and
signing in with it is signing in as ``admin``. Characters that show nothing or move the text around
(control characters, zero-width and right-to-left marks) are refused in user and display names,
so two operators can never look the same in a list or an audit report.
"""

from __future__ import annotations

import unicodedata

from app.store.models import Operator, column_length

USERNAME_MAX = column_length(Operator.username)
DISPLAY_NAME_MAX = column_length(Operator.display_name)

# Cc: control characters (NUL, ESC, DEL...); Cf: format characters (zero-width spaces and
# joiners, right-to-left marks and overrides, the byte-order mark); Co/Cs/Cn: private use,
# surrogates and unassigned code points, which show as nothing or as a box.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def hidden_characters(text: str) -> list[str]:
    """The characters of ``text`` that a reader cannot see or that reorder it, as ``U+200B``."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _HIDDEN]


def normal_username(username: str) -> str:
    """The name as it is stored and compared: NFKC, without the spaces around it."""
    return unicodedata.normalize("NFKC", username).strip()


def username_key(username: str) -> str:
    """The one spelling two names share when they are the same name (lower case)."""
    return normal_username(username).lower()


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be an operator's name, or None when it can."""
    name = normal_username(username)
    if not name or len(name) > USERNAME_MAX or any(c.isspace() for c in name):
        return (
            f"User name {username!r} is not usable: give 1 to {USERNAME_MAX} characters "
            "without spaces."
        )
    hidden = hidden_characters(name)
    if hidden:
        return (
            f"User name {username!r} holds characters that cannot be seen or that reorder the "
            f"text ({', '.join(hidden[:5])}); type the name with visible letters, digits and "
            "marks only."
        )
    return None


def display_name_problem(display_name: str) -> str | None:
    """Why ``display_name`` cannot be shown as an operator's name, or None when it can."""
    name = display_name.strip()
    if len(name) > DISPLAY_NAME_MAX:
        return f"The full name has {len(name)} characters; give at most {DISPLAY_NAME_MAX}."
    hidden = hidden_characters(name)
    if hidden:
        return (
            f"The full name holds characters that cannot be seen or that reorder the text "
            f"({', '.join(hidden[:5])}); type it with visible characters only."
        )
    return None
