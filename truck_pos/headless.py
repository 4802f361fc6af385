"""``truck-pos --headless``: the register process without a screen, and its local control socket.

Runs what the register process owns (the print worker on the configured printer, the pickup
scanner, the BLE radio) with no Kivy: for a truck whose counter is another device (a tablet
front end, a card terminal bridge) and for the appliance test. ``--control PATH`` opens a Unix
socket (mode 0600, the register's user only) that takes one JSON request per line and answers
one JSON line; it goes through the same services the touchscreen uses:

- ``{"op": "sale", "items": [["taco-fish", 2]], "codes": ["FB-LIKE-10"], "tender": "card"}``
  -> ``{"ok": true, "order_id": ..., "number": 7, "total_cents": 1190, "codes": [...]}``
  (``"tender": "cash", "cash_cents": 2000``; ``"customer_ref"``; ``"strict": true`` refuses the
  sale when a code is refused)
- ``{"op": "code", "items": [...], "code": "..."}``: would this code apply now? (nothing written)
- ``{"op": "void" | "refund", "order_id": ..., "pin": "<manager PIN>", "reason": "..."}``
- ``{"op": "status"}``: printer, campaign and outbox state

Bad input is answered with ``{"ok": false, "error": ...}``; it never stops the register.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socketserver
import threading
from pathlib import Path
from typing import Any

from truck_pos.bootstrap import Services
from truck_pos.domain.codes import CodeRefused
from truck_pos.errors import TruckPosError
from truck_pos.store import outbox

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024


class Control:
    """The control socket's operations, over the register's services."""

    def __init__(self, services: Services):
        self.s = services

    def handle(self, line: bytes) -> dict[str, Any]:
        """One request line -> one answer; never raises."""
        try:
            request = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return {"ok": False, "error": f"not a JSON request ({str(exc)[:80]})"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        op = getattr(self, f"op_{request.get('op')}", None) if isinstance(request.get("op"), str) else None
        if op is None:
            return {"ok": False, "error": f"unknown op {str(request.get('op'))[:40]!r}"}
        try:
            return {"ok": True, **op(request)}
        except TruckPosError as exc:
            return {"ok": False, "error": str(exc)[:500]}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"malformed {request['op']} request: {type(exc).__name__} {str(exc)[:200]}"}
        except Exception as exc:  # noqa: BLE001 - a bug answers an error; the register keeps running
            log.exception("control request failed")
            return {"ok": False, "error": f"internal error: {type(exc).__name__}"}

    def _ticket(self, request: dict[str, Any]) -> str:
        reg = self.s.register
        ticket = reg.open_ticket()
        try:
            for sku, qty in request["items"]:
                reg.add_item(ticket.id, str(sku), int(qty))
            if request.get("customer_ref"):
                reg.set_customer(ticket.id, str(request["customer_ref"]))
        except Exception:
            reg.cancel(ticket.id)
            raise
        return ticket.id

    def _code(self, ticket_id: str, code: str) -> dict[str, Any]:
        assert self.s.redemption is not None
        result = self.s.redemption.apply_code(ticket_id, str(code))
        if isinstance(result, CodeRefused):
            return {"code": code, "accepted": False, "reason": result.reason}
        return {"code": code, "accepted": True, "amount_cents": result.amount_cents, "segment": result.segment}

    def op_code(self, request: dict[str, Any]) -> dict[str, Any]:
        ticket_id = self._ticket(request)
        try:
            return self._code(ticket_id, request["code"])
        finally:
            self.s.register.cancel(ticket_id)

    def op_sale(self, request: dict[str, Any]) -> dict[str, Any]:
        reg = self.s.register
        ticket_id = self._ticket(request)
        try:
            codes = [self._code(ticket_id, c) for c in request.get("codes", [])]
            if request.get("strict") and not all(c["accepted"] for c in codes):
                reg.cancel(ticket_id)
                return {"sold": False, "codes": codes}
            staff = self.s.staff.login(str(request["pin"])) if request.get("pin") else None
            if request.get("tender", "card") == "cash":
                paid = reg.pay_cash(ticket_id, int(request["cash_cents"]), staff)
            else:
                paid = reg.pay_card(ticket_id, staff, reference=str(request.get("reference", "")))
        except Exception:
            reg.cancel(ticket_id)
            raise
        return {"sold": True, "order_id": paid.order_uuid, "number": paid.order_number, "total_cents": paid.total_cents,
                "change_cents": paid.change_cents, "codes": codes}

    def op_void(self, request: dict[str, Any]) -> dict[str, Any]:
        self.s.register.void_order(str(request["order_id"]), str(request["pin"]), str(request.get("reason", "")))
        return {"status": "voided"}

    def op_refund(self, request: dict[str, Any]) -> dict[str, Any]:
        cents = self.s.register.refund_order(str(request["order_id"]), str(request["pin"]), str(request.get("reason", "")))
        return {"status": "refunded", "refunded_cents": cents}

    def op_status(self, request: dict[str, Any]) -> dict[str, Any]:
        state = self.s.printing.printer_state() if self.s.printing else None
        return {"printer": state.message if state else "none", "pending_jobs": state.pending_jobs if state else 0,
                "campaign": self.s.campaigns.status_line() if self.s.campaigns else "", "outbox": outbox.counts()}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        control: Control = self.server.control  # type: ignore[attr-defined]
        while True:
            line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_REQUEST_BYTES:
                answer = {"ok": False, "error": f"request longer than {MAX_REQUEST_BYTES} bytes"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")
                return  # the rest of that line is unreadable as a request
            self.wfile.write(json.dumps(control.handle(line)).encode("utf-8") + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve_control(services: Services, path: str | Path) -> socketserver.BaseServer:
    """Open the control socket (mode 0600) and serve it on a daemon thread."""
    path = Path(path)
    path.unlink(missing_ok=True)  # a socket left by a killed register
    old = os.umask(0o177)
    try:
        server = _Server(str(path), _Handler)
    finally:
        os.umask(old)
    server.control = Control(services)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    return server


def run_headless(services: Services, *, control: str | None = None, sync: bool = False) -> int:
    """Start the register's workers and devices; run until SIGTERM/SIGINT."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    agent = services.extras.get("sync") if sync else None
    server = None
    try:
        if services.printing is not None:
            services.printing.start()  # prints jobs queued by any process (mobile orders come via truck-pos-sync)
        if services.scanner is not None:
            services.scanner.start()
        if services.proximity is not None:
            services.proximity.start_scanning()
        if agent is not None:
            agent.start()
        if control:
            server = serve_control(services, control)
        log.info("headless register running%s", f"; control socket {control}" if control else "")
        print(f"truck-pos headless: running (control {control or 'off'})", flush=True)
        done.wait()
        return 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        services.close()
