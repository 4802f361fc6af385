"""Headless Debian Chromium through Selenium with explicit paths (no Selenium Manager, no network)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")


def start_chromium(profile_dir: str | None = None) -> webdriver.Chrome:
    """One browser for a test module (about 4 s to start on 2 cores)."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1280,900", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={profile_dir or tempfile.mkdtemp(prefix='tp-chromium-')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def phone(driver: webdriver.Chrome) -> None:
    """A 390x844 phone viewport (touch, mobile user agent) through the DevTools protocol."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {"userAgent": PHONE_UA})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})


def desktop(driver: webdriver.Chrome) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def shot(driver: webdriver.Chrome, out: Path, name: str) -> Path:
    """Save a screenshot of the whole page under test-output/web/."""
    target = out / "web" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width = int(metrics["cssVisualViewport"]["clientWidth"])
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "width": width, "height": int(height)}
                           if width <= 500 else {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
    driver.save_screenshot(str(target))
    if width <= 500:
        phone(driver)
    else:
        desktop(driver)
    return target


def wait_until(check: Callable[[], object], timeout_s: float = 30, what: str = "condition", every_s: float = 0.2) -> object:
    deadline = time.monotonic() + timeout_s
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the page may be between loads
            last_exc = exc
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))
