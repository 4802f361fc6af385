"""An asyncio event loop on its own daemon thread: how the BLE scanner and the beacon run beside Kivy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class LoopThread:
    """Runs one coroutine on a fresh event loop in a daemon thread; ``stop_event`` asks it to finish."""

    def __init__(self, name: str):
        self.name = name
        self.stop_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def is_alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def start(self, run: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Start ``run()`` unless it is already running (idempotent)."""
        if self.is_alive():
            return
        self._loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(run(),), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Set the stop event from outside the loop, join the thread, close the loop once it has ended."""
        if self._loop and self.stop_event and self.is_alive():
            self._loop.call_soon_threadsafe(self.stop_event.set)
            assert self._thread is not None
            self._thread.join(timeout_s)
        if self._loop and not self.is_alive():
            self._loop.close()
            self._loop = None
