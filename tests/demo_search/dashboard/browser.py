"""A real headless Chromium for the dashboard tests, and the dashboard served by the real CLI.

Chromium and its driver are Debian's ``chromium`` and ``chromium-driver`` packages (``scripts/test.sh`` installs
them); chromedriver is given by path, so Selenium never downloads a driver or a browser. Without them, or
without Selenium, the tests skip naming the part, and under ``CI=true`` that skip fails the run
(``tests/skip_policy.py``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.harness import CLI

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
ARTIFACTS_ENV = "DEMO_SEARCH_TEST_ARTIFACTS"
"""Directory for the screenshots (default: the test's temporary directory)."""
START_TIMEOUT_S = 60


def chromium_paths() -> tuple[str, str]:
    """The paths of Chromium and of its chromedriver; skips (naming the Debian packages) when one is missing."""
    browser = next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = [name for name, path in (("chromium", browser), ("chromium-driver", driver)) if path is None]
        pytest.skip(f"needs a headless Chromium: install Debian's {' and '.join(missing)} package(s)")
    return browser, driver


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Selenium through Debian's chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1800", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_page_load_timeout(120)
    try:
        yield session
    finally:
        session.quit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def dashboard_server(db_url: str, *, cwd: Path) -> Iterator[str]:
    """``demo-search dashboard --db DB_URL`` on a free local port, as a subprocess; yields its base URL once it
    answers, and stops it (SIGINT, as Ctrl-C would) on the way out."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DEMO_SEARCH_DB"}
    process = subprocess.Popen(
        [str(CLI), "dashboard", "--db", db_url, "--port", str(port)],
        cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"the dashboard exited ({process.returncode}):\n{process.stdout.read()}"
            try:
                if httpx.get(f"{base}/api/searches", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the dashboard did not answer within {START_TIMEOUT_S} s"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Screenshots:
    """Saves numbered screenshots of a browser session into one directory (printed by the test)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    @classmethod
    def for_test(cls, name: str, tmp_path: Path) -> Screenshots:
        root = os.environ.get(ARTIFACTS_ENV)
        return cls(Path(root) / name if root else tmp_path / "screenshots")

    def take(self, session: Any, label: str) -> Path:
        path = self.directory / f"{len(self.saved) + 1:02d}-{label}.png"
        assert session.save_screenshot(str(path)), f"could not save {path}"
        self.saved.append(path)
        return path
