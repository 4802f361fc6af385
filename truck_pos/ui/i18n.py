"""Staff-facing text through gettext: English (the source strings) and Spanish, chosen per staff member.

``_("Cash")`` translates with the current language; ``bind_text(widget, "Cash")`` also remembers the
widget so that switching language (a staff member with another language logs in) re-labels it.
Catalogues live in truck_pos/locale/<lang>/LC_MESSAGES/truck_pos.mo (built from the .po next to it).
"""

from __future__ import annotations

import gettext
import weakref
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "truck_pos"
LANGUAGES = {"en": "English", "es": "Español"}

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_bound: list[tuple[weakref.ref, str, str]] = []


def set_language(language: str | None) -> str:
    """Switch every bound label to ``language`` (unknown or missing: English); returns the language used."""
    global _current, _language
    language = language if language in LANGUAGES else "en"
    _current = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)
    _language = language
    alive = []
    for ref, attr, msgid in _bound:
        widget = ref()
        if widget is not None:
            setattr(widget, attr, _(msgid))
            alive.append((ref, attr, msgid))
    _bound[:] = alive
    return language


def language() -> str:
    """The language in use now."""
    return _language


def _(msgid: str) -> str:
    """The translation of ``msgid`` in the current language."""
    return _current.gettext(msgid)


def N_(msgid: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return msgid


def bind_text(widget, msgid: str, attr: str = "text"):
    """Set ``widget.<attr>`` to the translation of ``msgid`` now and after every language switch."""
    setattr(widget, attr, _(msgid))
    _bound.append((weakref.ref(widget), attr, msgid))
    return widget
