"""Channels: one interface, one adapter per way of reaching people, each on its real library.

``send(Outgoing) -> provider id``; a failure raises :class:`SendError` saying whether a retry can help
(``transient``: server 5xx/429, timeout, connection) or not (malformed address, 4xx, gone subscription).
Every message carries its idempotency key where the channel has a place for it (email ``Message-ID``,
push ``Topic``, webhook/social ``Idempotency-Key``), so a send retried after a crash is recognisable.
One adapter instance per worker thread (connections are kept open between messages).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Protocol

import requests

from truck_pos.domain.contacts import normalize_email, normalize_phone
from truck_pos.errors import InvalidInput


_WIRE = compat32.clone(linesep="\r\n")  # SMTP wants CRLF line ends; smtplib sends bytes as they are
_NEWLINE = re.compile(r"\r\n|\r|\n")  # how the email package's generator splits a body into lines
_ASCII_TEXT = 'Content-Type: text/plain; charset="us-ascii"\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: 7bit\r\n'


class SendError(Exception):
    """A message the channel did not take; ``transient`` says whether trying again later can help."""

    def __init__(self, reason: str, transient: bool):
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class Outgoing:
    """One rendered message for one recipient (``to`` is the channel's address; empty for a page post)."""

    key: str
    to: str
    subject: str
    text: str
    unsubscribe_link: str = ""


class Channel(Protocol):
    """What the scheduler needs from a channel."""

    name: str

    def send(self, message: Outgoing) -> str: ...

    def close(self) -> None: ...


def key_token(key: str, length: int = 32) -> str:
    """A short, stable, header-safe form of an idempotency key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]


def http_failure(status: int, text: str, what: str) -> SendError:
    """Map an HTTP answer to a SendError: 5xx, 408 and 429 may pass later; other 4xx will not."""
    transient = status >= 500 or status in (408, 429)
    return SendError(f"{what} answered HTTP {status}: {text[:200]}", transient)


def address(normalize: Callable[[str], str | None], value: str, what: str) -> str:
    """The normalized address, or a permanent SendError naming what is wrong with it."""
    try:
        norm = normalize(value)
    except InvalidInput as exc:
        raise SendError(f"malformed {what}: {exc}", transient=False) from None
    if not norm:
        raise SendError(f"no {what}", transient=False)
    return norm


# --- email -------------------------------------------------------------------------------------------
class SmtpChannel:
    """Email over SMTP (``smtplib``), one kept-open connection; STARTTLS and login when configured."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, *, username: str = "", password: str = "",
                 starttls: bool = False, timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        name, self._from_addr = parseaddr(sender)
        self._from = formataddr((name, self._from_addr), charset="utf-8")
        self.domain = self._from_addr.rsplit("@", 1)[-1] or "localhost"
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            self._smtp = smtp
        return self._smtp

    def build(self, m: Outgoing) -> tuple[str, str, bytes]:
        """(recipient, Message-ID, bytes) of one email; plain text, UTF-8 only when needed.

        An ASCII message whose header lines all fit in 78 characters is written out directly, byte for
        byte what the compat32 ``MIMEText`` below makes of it (tests/test_reach_smtp_build.py holds the
        two side by side): the email package's header folding cost a third of the SMTP exchange. Any
        other message goes through ``MIMEText`` (the header registry of ``EmailMessage`` cost more than
        the SMTP exchange itself).
        """
        to = address(normalize_email, m.to, "email address")
        subject = " ".join(m.subject.split())
        msg_id = f"<{key_token(m.key)}@{self.domain}>"
        headers = [("From", self._from), ("To", to), ("Subject", subject), ("Date", formatdate(localtime=False)),
                   ("Message-ID", msg_id)]
        if m.unsubscribe_link:
            headers += [("List-Unsubscribe", f"<{m.unsubscribe_link}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
        lines = _NEWLINE.split(m.text)
        plain = m.text.isascii() and max(map(len, lines)) <= 900
        if plain and all(len(n) + len(v) <= 76 and v.isascii() and v.isprintable() for n, v in headers):
            head = "".join(f"{n}: {v}\r\n" for n, v in headers)
            return to, msg_id, (_ASCII_TEXT + head + "\r\n" + "\r\n".join(lines)).encode("ascii")
        return to, msg_id, self._mime(m.text, plain, headers)

    @staticmethod
    def _mime(text: str, plain: bool, headers: list[tuple[str, str]]) -> bytes:
        msg = MIMEText(text, "plain", "us-ascii" if plain else "utf-8")
        for name, value in headers:
            msg[name] = Header(value, "utf-8") if name == "Subject" and not value.isascii() else value
        return msg.as_bytes(policy=_WIRE)

    def send(self, m: Outgoing) -> str:
        to, msg_id, data = self.build(m)
        try:
            refused = self._connection().sendmail(self._from_addr, [to], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            reason = text.decode("utf-8", "replace")[:200]
            raise SendError(f"the mail server refused {m.to!r}: {code} {reason}", code < 500) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            reason = str(exc.smtp_error)[:200]
            raise SendError(f"the mail server answered {exc.smtp_code} {reason}", exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()  # a dropped or timed-out connection: reconnect on the next message
            raise SendError(f"mail server unreachable or timed out: {type(exc).__name__}: {exc}", True) from None
        if refused:
            raise SendError(f"the mail server refused {m.to!r}: {refused}", False)
        return msg_id

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


# --- SMS ---------------------------------------------------------------------------------------------
class TwilioChannel:
    """SMS through Twilio's REST API (``twilio`` client); ``base_url`` points it elsewhere (tests, a proxy)."""

    name = "sms"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, base_url: str = "", timeout: float = 10.0):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")
        self.from_number = from_number

    def send(self, m: Outgoing) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        to = address(normalize_phone, m.to, "phone number")
        try:
            return self.client.messages.create(to=to, from_=self.from_number, body=m.text).sid or ""
        except TwilioRestException as exc:
            raise http_failure(exc.status, str(exc.msg), "Twilio") from None
        except (TwilioException, requests.RequestException, OSError) as exc:
            raise SendError(f"Twilio unreachable or timed out: {type(exc).__name__}: {str(exc)[:200]}", True) from None

    def close(self) -> None:
        pass


# --- Web Push ----------------------------------------------------------------------------------------
class WebPushChannel:
    """Web Push (``pywebpush``, VAPID, aes128gcm); ``to`` is the subscription as JSON {endpoint, keys}."""

    name = "push"

    def __init__(self, vapid_private_key_pem: bytes, subject: str, *, timeout: float = 10.0, ttl: int = 12 * 3600):
        from py_vapid import Vapid02

        if not subject.startswith(("mailto:", "https:")):
            raise ValueError("the VAPID subject must be a mailto: or https: URL")
        self.vapid = Vapid02.from_pem(vapid_private_key_pem)
        self.subject, self.timeout, self.ttl = subject, timeout, ttl
        self.session = requests.Session()

    def send(self, m: Outgoing) -> str:
        from pywebpush import WebPushException, webpush

        try:
            sub = json.loads(m.to)
            info = {"endpoint": sub["endpoint"], "keys": {"p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"]}}
        except (ValueError, TypeError, KeyError):
            raise SendError("malformed push subscription (needs endpoint and keys p256dh/auth)", False) from None
        payload = json.dumps({"title": m.subject, "body": m.text, "unsubscribe": m.unsubscribe_link, "key": key_token(m.key)},
                             ensure_ascii=False, separators=(",", ":"))
        try:
            resp = webpush(info, payload, vapid_private_key=self.vapid, vapid_claims={"sub": self.subject}, timeout=self.timeout,
                           ttl=self.ttl, headers={"Topic": key_token(m.key)}, requests_session=self.session)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (404, 410):
                raise SendError(f"push subscription is gone (HTTP {status})", False) from None
            raise http_failure(status, str(exc), "the push service") if status else SendError(str(exc)[:200], True) from None
        except (requests.RequestException, OSError) as exc:
            raise SendError(f"push service unreachable or timed out: {type(exc).__name__}", True) from None
        except (ValueError, TypeError) as exc:
            raise SendError(f"push subscription keys are not usable: {exc}", False) from None
        return resp.headers.get("Location", "") if isinstance(resp, requests.Response) else ""

    def close(self) -> None:
        self.session.close()


# --- social posts and webhook ------------------------------------------------------------------------
class SocialChannel:
    """A post on the owner's Facebook page (Graph API ``/{page}/feed``) or X account (API v2 ``/2/tweets``)."""

    def __init__(self, kind: str, base_url: str, token: str, *, page_id: str = "", timeout: float = 10.0):
        if kind not in ("facebook", "x"):
            raise ValueError("social channel is facebook or x")
        self.name, self.base_url, self.token, self.page_id, self.timeout = kind, base_url.rstrip("/"), token, page_id, timeout
        self.session = requests.Session()

    def send(self, m: Outgoing) -> str:
        headers = {"Idempotency-Key": key_token(m.key)}
        try:
            if self.name == "facebook":
                resp = self.session.post(f"{self.base_url}/v19.0/{self.page_id}/feed", headers=headers, timeout=self.timeout,
                                         data={"message": m.text, "access_token": self.token})
            else:
                resp = self.session.post(f"{self.base_url}/2/tweets", json={"text": m.text}, timeout=self.timeout,
                                         headers={**headers, "Authorization": f"Bearer {self.token}"})
        except (requests.RequestException, OSError) as exc:
            raise SendError(f"{self.name} unreachable or timed out: {type(exc).__name__}", True) from None
        if not 200 <= resp.status_code < 300:
            raise http_failure(resp.status_code, resp.text, self.name)
        try:
            doc = resp.json()
            return str(doc.get("id") or doc.get("data", {}).get("id") or "")
        except (ValueError, AttributeError):
            return ""

    def close(self) -> None:
        self.session.close()


class ManualChannel:
    """A social post with no account configured: kept as "copy this text" for the owner to post by hand."""

    def __init__(self, kind: str):
        self.name = kind

    def send(self, m: Outgoing) -> str:
        return "manual"

    def close(self) -> None:
        pass


class WebhookChannel:
    """A generic webhook: JSON POST signed with HMAC-SHA256 (``X-TruckPos-Signature: t=..,v1=..``)."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, *, timeout: float = 10.0):
        self.url, self.secret, self.timeout = url, secret, timeout
        self.session = requests.Session()

    def sign(self, body: bytes, ts: int) -> str:
        """The signature header value for ``body`` sent at ``ts`` (a receiver recomputes it)."""
        mac = hmac.new(self.secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={ts},v1={mac}"

    def send(self, m: Outgoing) -> str:
        body = json.dumps({"key": m.key, "to": m.to, "subject": m.subject, "text": m.text,
                           "unsubscribe": m.unsubscribe_link}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": key_token(m.key),
                   "X-TruckPos-Signature": self.sign(body, int(time.time()))}
        try:
            resp = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except (requests.RequestException, socket.timeout, OSError) as exc:
            raise SendError(f"webhook unreachable or timed out: {type(exc).__name__}", True) from None
        if not 200 <= resp.status_code < 300:
            raise http_failure(resp.status_code, resp.text, "the webhook")
        return resp.headers.get("X-Request-Id", "")

    def close(self) -> None:
        self.session.close()


