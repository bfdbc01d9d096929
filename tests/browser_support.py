"""One headless Chromium for the whole test process (each pytest-xdist worker starts its own),
reached over its DevTools port: Debian's Chromium, never a browser download.

A test does not keep Playwright open between tests (its sync API marks an event loop as
running, which `asyncio.run` in the next send must not meet), so each test connects a
Playwright of its own to this browser and gets fresh contexts from it; starting Chromium is
what is shared. The switches are those Playwright gives a headless Chromium it launches
itself, so that pages lay out and behave as under `chromium.launch()`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a sandbox without network: no sandboxing, no background connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What Playwright adds for a headless Chromium of its own launching (chromiumSwitches and
# the headless ones): no scrollbars taking width, no throttled background timers, HTTP kept
# HTTP on loopback, cookies not partitioned by top-level site, sRGB colours.
PLAYWRIGHT_ARGS = [
    "--hide-scrollbars",
    "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,"
    "primaryPointerType=4,availablePointerTypes=4",
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-component-extensions-with-background-pages",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,"
    "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,MediaRouter,PaintHolding,"
    "ThirdPartyStoragePartitioning,OptimizationHints,NetworkTimeServiceQuerying",
    "--allow-pre-commit-input",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--password-store=basic",
    "--no-service-autorun",
    "--disable-search-engine-choice-screen",
]


class SharedChromium:
    """A Chromium started on first use and again if it died; `endpoint()` is its DevTools
    URL, for Playwright's `chromium.connect_over_cdp`."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.profile: Path | None = None
        self._endpoint = ""

    def endpoint(self) -> str:
        if self.process is None or self.process.poll() is not None:
            self.close()
            self._start()
        return self._endpoint

    def _start(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="digest-chromium-"))
        log = self.profile.parent / f"{self.profile.name}.log"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    str(CHROMIUM),
                    *CHROMIUM_ARGS,
                    *PLAYWRIGHT_ARGS,
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",  # it picks a free one and writes it down
                    f"--user-data-dir={self.profile}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )
        # Chromium writes "PORT\n/devtools/browser/ID" here once it listens
        written = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            lines = written.read_text().splitlines() if written.exists() else []
            if len(lines) >= 2:
                self._endpoint = f"http://127.0.0.1:{lines[0]}"
                log.unlink()
                return
            time.sleep(0.05)
        output_text = log.read_text(errors="replace")[-2000:]
        self.close()
        raise RuntimeError(f"Chromium did not open its DevTools port: {output_text}")

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                (self.profile.parent / f"{self.profile.name}.log").unlink()
            self.profile = None
