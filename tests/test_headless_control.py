"""The headless register's control socket: real sales through the services; bad input is answered, never fatal."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

from truck_pos.headless import MAX_REQUEST_BYTES, serve_control
from truck_pos.store.models import Order


@pytest.fixture
def control(services, tmp_path):
    path = tmp_path / "register.sock"
    server = serve_control(services, path)
    yield path
    server.shutdown()
    server.server_close()


def talk(path, *payloads: bytes) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        reader = s.makefile("rb")
        answers = []
        for raw in payloads:
            s.sendall(raw + b"\n")
            answers.append(json.loads(reader.readline()))
        return answers


def test_a_sale_a_code_check_and_a_refund_go_through_the_register(control, services):
    services.staff.add("Maria", "9999", "manager")
    [code, sale] = talk(control, json.dumps({"op": "code", "items": [["taco-fish", 1]], "code": "NOPE"}).encode(),
                        json.dumps({"op": "sale", "items": [["taco-fish", 2]], "tender": "cash", "cash_cents": 1000}).encode())
    assert code["ok"] and not code["accepted"] and "unknown code" in code["reason"]
    assert sale["ok"] and sale["sold"] and sale["total_cents"] == 900 + 74 and sale["change_cents"] == 1000 - 974
    assert Order.get(Order.uuid == sale["order_id"]).status == "paid"
    [denied, refund] = talk(control, json.dumps({"op": "refund", "order_id": sale["order_id"], "pin": "1111"}).encode(),
                            json.dumps({"op": "refund", "order_id": sale["order_id"], "pin": "9999", "reason": "x"}).encode())
    assert not denied["ok"] and "manager PIN" in denied["error"]
    assert refund == {"ok": True, "status": "refunded", "refunded_cents": 974}
    assert stat.S_IMODE(os.stat(control).st_mode) == 0o600


@pytest.mark.parametrize("raw, error", [
    (b"\xff\xfe not utf-8", "not a JSON request"), (b"[1, 2]", "a JSON object"), (b'{"op": "launch"}', "unknown op"),
    (b'{"op": 7}', "unknown op"), (b'{"op": "sale", "items": 5}', "malformed sale request"),
    (b'{"op": "sale", "items": [["taco-fish", "two"]]}', "malformed sale request"),
    (b'{"op": "sale", "items": [["\\u0000\\ud800 nope", 1]]}', "Unknown item"),
    (b'{"op": "void", "order_id": "x"}', "malformed void request"), (b"[" * 100_000, "not a JSON request"),
])
def test_bad_requests_are_answered_and_the_register_keeps_serving(control, services, raw, error):
    answers = talk(control, raw[:MAX_REQUEST_BYTES - 1], b'{"op": "status"}')
    assert not answers[0]["ok"] and error in answers[0]["error"]
    assert answers[1]["ok"] and answers[1]["outbox"]["queued"] == 0
    assert not Order.select().exists()


def test_an_oversized_request_is_refused(control):
    [answer] = talk(control, b"x" * (MAX_REQUEST_BYTES + 10))
    assert not answer["ok"] and "longer than" in answer["error"]
