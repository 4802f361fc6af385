"""The SMTP adapter writes short ASCII emails itself (fast path); every byte must be what the email package's
compat32 ``MIMEText`` makes of the same message. The reference here is the email package, built in the test the
way the adapter built every message before the fast path, independently of the adapter's code."""

from __future__ import annotations

import email
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32, default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.hub.messaging import channels
from sync.hub.messaging.channels import Outgoing, SmtpChannel

DATE = "Mon, 01 Jun 2026 12:00:00 -0000"
WIRE = compat32.clone(linesep="\r\n")


def reference(sender: str, m: Outgoing, to: str, msg_id: str) -> bytes:
    """The message as the email package writes it (the adapter's construction before the fast path)."""
    lines = m.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    plain = m.text.isascii() and max(map(len, lines)) <= 900
    msg = MIMEText(m.text, "plain", "us-ascii" if plain else "utf-8")
    subject = " ".join(m.subject.split())
    msg["From"], msg["To"] = email.utils.formataddr(email.utils.parseaddr(sender), charset="utf-8"), to
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    msg["Date"] = DATE
    msg["Message-ID"] = msg_id
    if m.unsubscribe_link:
        msg["List-Unsubscribe"] = f"<{m.unsubscribe_link}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg.as_bytes(policy=WIRE)


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setattr(channels, "formatdate", lambda localtime=False: DATE)


CASES = [
    ("Truck <hello@truck.test>", Outgoing("bulk:1", "person1@example.com", "Hello P1", "Hi P1, your code is TP1-ABC.\n",
                                          "https://hub.test/u/1.0123456789abcdef01234567")),
    ("hello@truck.test", Outgoing("k", "a@b.co", "  Spaced   subject\tline ", "no newline at the end", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "S", "From the truck\r\n.dot line\rold mac\n\nlast\n\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "S" * 80, "a long subject is folded by the email package\n", "")),
    # "Subject: " + 69 characters is a 78-character line, the longest the email package leaves whole; one more folds it
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "a" * 30 + " " + "b" * 38, "78-character subject line\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "a" * 30 + " " + "b" * 39, "79-character subject line\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "Grüße", "a non-ASCII subject is encoded\n", "")),
    ("Trück <hello@truck.test>", Outgoing("k", "a@b.co", "S", "a non-ASCII sender name is encoded\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "S", "a non-ASCII body: Grüße, 15 € off\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "S", "x" * 901 + "\nlong line: base64\n", "")),
    ("Truck <hello@truck.test>", Outgoing("k", "a@b.co", "S", "long unsubscribe link\n", "https://hub.test/" + "u" * 80)),
    ("Truck <hello@truck.test>", Outgoing("k", "", "S", "", "")),
]


@pytest.mark.parametrize("sender,m", [c for c in CASES if c[1].to], ids=lambda v: getattr(v, "text", "")[:20] or None)
def test_the_adapter_writes_what_the_email_package_writes(sender, m):
    to, msg_id, data = SmtpChannel("127.0.0.1", 25, sender).build(m)
    assert data == reference(sender, m, to, msg_id)
    parsed = email.message_from_bytes(data, policy=default)
    assert parsed["To"] == m.to and parsed["Subject"].strip() == " ".join(m.subject.split())  # compat32 folds a long word onto its own line
    assert parsed.get_content().replace("\r\n", "\n") == m.text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(subject=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90),
       text=st.lists(st.sampled_from(list("aZ .,:-=?_\r\n\t") + ["From ", "\n.", "\r\n"]), max_size=80).map("".join),
       link=st.sampled_from(["", "https://hub.test/u/12.abcdef", "https://hub.example.com/" + "x" * 60]),
       local=st.from_regex(r"[a-z][a-z0-9.+_-]{0,40}", fullmatch=True))
def test_any_ascii_message_is_byte_for_byte_the_email_packages(subject, text, link, local):
    m = Outgoing("campaign:message:42", f"{local.rstrip('.')}x@example.com", subject, text, link)
    to, msg_id, data = SmtpChannel("127.0.0.1", 25, "Food Truck <hello@truck.test>").build(m)
    assert data == reference("Food Truck <hello@truck.test>", m, to, msg_id)
