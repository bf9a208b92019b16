"""Local servers and headless Chromium for the browser tests.

The browser is Debian's ``chromium`` package (``apt-get install chromium``), driven by
Playwright through ``executable_path``: Playwright's own browser download needs
internet, which CI lacks. Without Chromium the browser tests skip with a one-line
reason; where the environment variable ``CI`` is set (as in ``.ci/run``, which installs
Chromium) they fail instead, so that CI always proves them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

HOST = "127.0.0.1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Only 127.0.0.1 is opened: ignore any proxy of the environment.
    "--no-proxy-server",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"
# A closed port on the loopback interface: a proxy here makes every outbound HTTP
# request of a server under test fail at once, as on a machine without internet.
NO_INTERNET_PROXY = "http://127.0.0.1:9"


def free_port(low: int = 20000, high: int = 49151) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on.

    Below 49152 because kedro-viz refuses ports in the ephemeral range, where the
    operating system's own choice (binding port 0) usually falls.
    """
    for port in random.sample(range(low, high), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port between {low} and {high} on {HOST}")


def offline_environment(**extra: str) -> dict[str, str]:
    """The current environment, with every outbound HTTP(S) request failing fast."""
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = NO_INTERNET_PROXY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def local_get(url: str, timeout_s: float = 30) -> bytes:
    """GET a URL on this machine, bypassing any HTTP proxy of the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout_s) as response:
        return response.read()


def _answers(url: str) -> bool:
    try:
        local_get(url, timeout_s=5)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group (it may have forked workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
    else:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serve(
    command: Sequence[str],
    *,
    ready_url: str,
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 120,
) -> Iterator[subprocess.Popen]:
    """Start ``command`` in its own process group, wait until ``ready_url`` answers
    200, and stop the group on exit. Fails with the server's log if it never answers.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(ready_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{command[0]} did not answer at {ready_url} within {timeout_s} s "
                    f"(exit code {process.poll()}); "
                    f"its log:\n{log.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.5)
        yield process
    finally:
        _stop(process)


def _only_local(route: Route) -> None:
    if urlsplit(route.request.url).hostname in (HOST, "localhost"):
        route.continue_()
    else:
        route.abort("internetdisconnected")


def require_chromium() -> None:
    """Skip the test when Chromium is missing, or fail it where ``CI`` is set."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = (
        f"no Chromium at {CHROMIUM} (on PATH: {shutil.which('chromium')}): install "
        "Debian's package (`apt-get install chromium`) or set CHROMIUM_PATH"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the browser tests must run")
    pytest.skip(message)


@contextmanager
def chromium_page(width: int = 1600, height: int = 1000) -> Iterator[Page]:
    """A page in headless Chromium that can reach 127.0.0.1 only."""
    require_chromium()
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context: BrowserContext = browser.new_context(
                viewport={"width": width, "height": height}
            )
            context.route("**/*", _only_local)
            yield context.new_page()
        finally:
            browser.close()


def fit_viewport_to_content(page: Page, scroller: str, max_height: int = 3000) -> None:
    """Make the viewport tall enough to show all of the ``scroller`` element's content
    (a page that scrolls inside an element cannot be captured with ``full_page``)."""
    hidden = page.locator(scroller).first.evaluate(
        "e => e.scrollHeight - e.clientHeight"
    )
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = min(size["height"] + max(int(hidden), 0) + 20, max_height)
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(1_500)


def save_screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of the page to ``docs/images/<name>`` (shown in the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path
