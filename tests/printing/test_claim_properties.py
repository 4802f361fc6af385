"""Property tests: claim parsing and the scanner's line decoder over arbitrary Unicode and bytes.

Neither may raise, and no text that is not the genuine code (up to the whitespace a scanner adds and caps
lock) is ever accepted. The expected outcome comes from the claim format as the module docstring specifies
it (six dot-separated ASCII fields, HMAC signature), not from the parser: a text is accepted exactly when it
is the genuine code with surrounding spaces/line endings and any letter case.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, example, given, settings, strategies as st

from truck_pos.devices.scanner import MAX_LINE_BYTES, LineSplitter, decode_line
from truck_pos.domain.claims import Claim, ClaimRefused, make_claim, verify_claim

KEY = b"property-test-key-32-bytes-long!"
TRUCK = "truck-demo"
ORDER = "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab"
CODE = make_claim(KEY, TRUCK, date(2026, 6, 1), 42, ORDER)
MANY = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_genuine(text: str) -> bool:
    """The independent model: the printed code, give or take what a scanner or keyboard adds.

    Only ASCII counts (the format is strictly ASCII): a look-alike such as dotless 'ı' upper-cases to 'I',
    but a scanner never delivers it for a printed code.
    """
    return text.isascii() and text.strip(" \t\r\n").upper() == CODE


def check(text: str | bytes) -> Claim | ClaimRefused:
    result = verify_claim(text, KEY, TRUCK)
    if isinstance(result, ClaimRefused):
        # The reason goes on screen: one printable ASCII line, no echo of control characters.
        assert result.reason and result.reason.isascii() and result.reason.isprintable()
        assert result.kind in ("not_a_claim", "forged", "other_truck")
    return result


def mutate(code: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply (position, how, text) edits: 0 replace, 1 insert, 2 delete."""
    for pos, how, text in edits:
        pos %= len(code) + 1
        if how == 0:
            code = code[:pos] + text + code[pos + 1:]
        elif how == 1:
            code = code[:pos] + text + code[pos:]
        else:
            code = code[:pos] + code[pos + 1:]
    return code


POOL = "ABCZ27.-\r\n 0189٠١٢３４ＴＰ．ΤΡКОІ\u200b\u00a0\ufeffßſıİﬀé\x00\x1b"  # look-alikes, Unicode digits


def random_edits(rnd, extra: str) -> str:
    """The genuine code with 1-4 characters swapped, inserted or cut (from POOL or any Unicode ``extra``)."""
    edits = [(rnd.randint(0, 200), rnd.randint(0, 2), rnd.choice(POOL + extra))
             for _ in range(rnd.randint(1, 4))]
    return mutate(CODE, edits)


# One stream for the 10k run: any Unicode, any bytes, and the genuine code with characters swapped, inserted or cut.
CLAIM_INPUTS = st.one_of(st.text(max_size=120), st.binary(max_size=120),
                         st.builds(random_edits, st.randoms(use_true_random=False), st.text(max_size=2)))


@MANY
@given(CLAIM_INPUTS)
@example("TP1.TRUCK-DEMO.2026٠601.42.AAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA")
@example(CODE[:-1] + "é")  # non-ASCII signature: hmac.compare_digest on str raised TypeError
@example(CODE.replace(".42.", ".４２."))  # Unicode digits passed isdigit(), then encode('ascii') raised
@example("TP1." + "\x00" * 5)
@example(CODE.encode() + b"\xff")
@example(CODE[:-1] + "ı")  # dotless i upper-cases to "I" (CODE ends in "I"): not ASCII, so not the code
def test_claim_parsing_never_raises_and_accepts_only_the_genuine_code(text):
    result = check(text)
    genuine = is_genuine(text.decode("latin-1") if isinstance(text, bytes) else text)
    assert isinstance(result, Claim) == genuine
    if genuine:
        assert (result.order_uuid, result.number, result.business_day) == (ORDER, 42, date(2026, 6, 1))


def test_the_model_accepts_the_code_as_scanners_and_caps_lock_deliver_it():
    for text in (CODE, CODE.lower(), f"  {CODE}\r\n", CODE.encode() + b"\r\n"):
        assert isinstance(check(text), Claim)


# --- the scanner's line decoder -------------------------------------------------------------------------------

def feed_all(splitter: LineSplitter, chunks: list[bytes], now: float = 0.0) -> list[str]:
    return [line for chunk in chunks for line in splitter.feed(chunk, now)]


@MANY
@given(st.binary(max_size=300), st.randoms(use_true_random=False), st.sampled_from([b"\r\n", b"\x03", b"#END#"]))
def test_the_line_decoder_never_raises_and_yields_only_bounded_printable_lines(noise, rnd, terminator):
    """Noise with the genuine code spliced in, cut into random chunks with random pauses between them."""
    at = rnd.randint(0, len(noise))
    data = noise[:at] + (CODE.encode() + terminator if rnd.random() < 0.5 else b"") + noise[at:]
    splitter, now, lines, pos = LineSplitter(terminator), 0.0, [], 0
    while pos < len(data):
        step = rnd.randint(1, 64)
        now += rnd.choice((0.0, 0.05, 1.0))
        lines += splitter.feed(data[pos:pos + step], now)
        pos += step
    for line in lines:
        assert line and line.isprintable() and line == line.strip() and len(line) <= MAX_LINE_BYTES
        assert isinstance(verify_claim(line, KEY, TRUCK), Claim) == (line.upper() == CODE)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=MAX_LINE_BYTES - 1).filter(lambda b: b"\r" not in b and b"\n" not in b),
       st.integers(1, len(CODE)))
def test_a_leftover_never_swallows_the_next_code(garbage, split):
    """Noise without a terminator, a pause, then a real scan in two chunks: the scan arrives whole and verifies."""
    splitter = LineSplitter(b"\r\n", idle_s=0.5)
    lines = splitter.feed(garbage, 10.0)
    code = CODE.encode()
    lines += splitter.feed(code[:split], 11.0) + splitter.feed(code[split:] + b"\r\n", 11.05)
    assert lines[-1] == CODE and isinstance(verify_claim(lines[-1], KEY, TRUCK), Claim)
    assert all(not isinstance(verify_claim(x, KEY, TRUCK), Claim) for x in lines[:-1])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_how_the_bytes_are_chunked_does_not_change_the_lines(data, cuts):
    """Without pauses, the same byte stream gives the same lines however the serial port chunks it."""
    whole = LineSplitter(b"\r\n").feed(data, 0.0)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    assert feed_all(LineSplitter(b"\r\n"), pieces) == whole


def test_decode_line_replaces_control_and_undecodable_bytes_visibly():
    assert decode_line(b"\x1b@AB\xffC\x00") == "?@AB?C?"
    assert decode_line("TRÜCK".encode()) == "TRÜCK"  # printable Unicode passes; verify_claim refuses it
    assert check("TRÜCK").kind == "not_a_claim"


def test_an_over_long_run_is_cut_and_its_tail_does_not_become_a_scan():
    s = LineSplitter(b"\r\n")
    assert s.feed(b"x" * 600, 0.0) == ["x" * MAX_LINE_BYTES]
    assert s.feed(b"yyy\r\n" + CODE.encode() + b"\r\n", 0.1) == [CODE]  # the rest of the long run is dropped
