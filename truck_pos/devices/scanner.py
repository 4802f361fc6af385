"""Serial QR scanner (pyserial): a reader thread turns the byte stream into decoded lines.

Scanners end a code with CR, LF, CR LF or a configured terminator; all are accepted, and empty
lines are dropped. Bytes that are not text become ``?`` so staff see "not a pickup code" rather
than nothing. A repeat of the same text within ``repeat_window_s`` is ignored (a customer holding
the phone under the scanner). When the port goes away (unplugged), ``state`` says so, ``read``
raises DeviceUnavailable, and the thread reopens the port every ``reconnect_s`` until it is back.
A USB-HID scanner in keyboard mode needs none of this: it types into the window's text field.
Thread-safety: ``read`` and ``state`` may be called from any thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator

import serial

from truck_pos.errors import DeviceUnavailable

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 512
IDLE_FLUSH_S = 0.5  # silence after which unterminated bytes are a scan of their own


def parse_terminator(config_text: str) -> bytes:
    r"""The configured terminator, written with escapes in the config file (``\r\n``, ``\x03``)."""
    return config_text.encode("ascii").decode("unicode_escape").encode("latin-1") or b"\r\n"


def decode_line(raw: bytes) -> str:
    """Bytes of one scan -> printable text; undecodable or control bytes become ``?`` (never raises)."""
    text = bytes(raw[:MAX_LINE_BYTES]).decode("utf-8", errors="replace")
    return "".join(ch if ch.isprintable() and ch != "\ufffd" else "?" for ch in text).strip()


class LineSplitter:
    """Feed bytes as they arrive; get back complete lines (any of CR, LF, CR LF or the terminator).

    A scanner sends a code in one burst. Bytes left without a terminator (noise, a half-read code) are
    not glued onto the next scan: after ``idle_s`` of silence they become a line of their own, and a
    run longer than MAX_LINE_BYTES is cut there and the rest skipped up to the next terminator.
    """

    def __init__(self, terminator: bytes = b"\r\n", idle_s: float = IDLE_FLUSH_S):
        self.terminators = sorted({b"\r", b"\n", terminator} - {b""}, key=len, reverse=True)
        self.idle_s = idle_s
        self._buffer = b""
        self._last: float | None = None
        self._skipping = False  # inside an over-long run: drop bytes until its terminator

    def feed(self, chunk: bytes, now: float | None = None) -> list[str]:
        """Lines completed by ``chunk`` (``now``: monotonic seconds of its arrival, for the idle rule)."""
        lines: list[str] = []
        if now is not None:
            if self._buffer and self._last is not None and now - self._last > self.idle_s:
                lines.append(decode_line(self._buffer))  # a leftover from before the pause: its own line
                self._buffer, self._skipping = b"", False
            if chunk:
                self._last = now
        data = self._buffer + bytes(chunk)
        for t in self.terminators:
            if t not in (b"\r", b"\n"):
                data = data.replace(t, b"\n")
        *complete, rest = data.replace(b"\r", b"\n").split(b"\n")
        for i, raw in enumerate(complete):
            if not (self._skipping and i == 0):
                lines.append(decode_line(raw))
        if complete:
            self._skipping = False
        if self._skipping:
            rest = b""
        elif len(rest) > MAX_LINE_BYTES:  # a scanner that never sends a terminator
            lines.append(decode_line(rest[:MAX_LINE_BYTES]))
            rest, self._skipping = b"", True
        self._buffer = rest
        return [line for line in lines if line]


class RepeatFilter:
    """Drops a line equal to the previous one seen within ``window_s`` (monotonic seconds)."""

    def __init__(self, window_s: float, monotonic: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.monotonic = monotonic
        self._last: tuple[str, float] | None = None

    def accept(self, line: str) -> bool:
        now = self.monotonic()
        repeat = self._last is not None and self._last[0] == line and now - self._last[1] < self.window_s
        self._last = (line, now)  # a held phone keeps extending the window
        return not repeat


class SerialScanner:
    """Reads a serial scanner on a thread; ``read()`` / ``lines()`` hand out decoded, de-duplicated scans."""

    def __init__(self, port: str, *, baudrate: int = 9600, terminator: bytes = b"\r\n", repeat_window_s: float = 3.0,
                 reconnect_s: float = 2.0, monotonic: Callable[[], float] = time.monotonic,
                 open_port: Callable[..., serial.SerialBase] = serial.serial_for_url):
        self.port = port
        self.baudrate = baudrate
        self.terminator = terminator
        self.reconnect_s = reconnect_s
        self._repeats = RepeatFilter(repeat_window_s, monotonic)
        self._monotonic = monotonic
        self._open_port = open_port
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error = "Scanner starting"
        self._connected = threading.Event()
        self._tried = threading.Event()  # the first open attempt is over (read waits for it)

    @property
    def state(self) -> str:
        """"ok" or a sentence for the status bar."""
        return "ok" if self._connected.is_set() else self._error

    def start(self) -> None:
        """Open the port and start reading (returns at once; the thread keeps retrying the port)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qr-scanner", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_connected(self, timeout: float) -> bool:
        """True once the port is open (for start-up and tests)."""
        return self._connected.wait(timeout)

    def read(self, timeout: float | None = None) -> str | None:
        """The next scan, or None after ``timeout``; raises DeviceUnavailable if unplugged and nothing is queued."""
        self._tried.wait(timeout)
        try:
            return self._queue.get(timeout=timeout) if self._connected.is_set() else self._queue.get_nowait()
        except queue.Empty:
            if not self._connected.is_set():
                raise DeviceUnavailable(self._error) from None
            return None

    def lines(self, timeout: float = 0.5) -> Iterator[str]:
        """Yield scans until stopped (skips quiet periods; raises DeviceUnavailable while unplugged)."""
        while not self._stop.is_set():
            line = self.read(timeout)
            if line is not None:
                yield line

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = self._open_port(self.port, baudrate=self.baudrate, timeout=0.2)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._unavailable(exc)
                self._tried.set()
                self._stop.wait(self.reconnect_s)
                continue
            try:
                self._connected.set()
                self._tried.set()
                log.info("scanner on %s", self.port)
                self._read_port(port)
            except (serial.SerialException, OSError) as exc:
                self._unavailable(exc)
            finally:
                self._connected.clear()
                port.close()
            self._stop.wait(self.reconnect_s)

    def _read_port(self, port: serial.SerialBase) -> None:
        splitter = LineSplitter(self.terminator)
        while not self._stop.is_set():
            chunk = port.read(max(1, port.in_waiting))
            for line in splitter.feed(chunk, self._monotonic()):
                if self._repeats.accept(line):
                    self._queue.put(line)
                else:
                    log.debug("scanner repeat ignored")

    def _unavailable(self, exc: BaseException) -> None:
        message = f"Scanner unplugged or not found ({self.port}) - pickup codes can be typed in"
        if message != self._error:
            log.warning("%s (%s: %s)", message, self.port, exc)
        self._error = message
        self._connected.clear()


def build_scanner(settings) -> SerialScanner | None:
    """The configured scanner from ``settings.scanner``, or None for kind = none (keyboard-mode scanners)."""
    if settings.kind != "serial":
        return None
    return SerialScanner(settings.port, baudrate=settings.baudrate, terminator=parse_terminator(settings.terminator),
                         repeat_window_s=settings.repeat_window_s)
