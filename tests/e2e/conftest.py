"""Browser tests: a real ``minsheng serve`` and Debian's headless Chromium, driven by Playwright.

Chromium comes from Debian (``make browser`` installs it, with its Chinese interface, so date
pickers read 年/月/日 as a Chinese user's do); Playwright's own browser downloads
are never used. Without Chromium or Playwright these tests are skipped on a developer's
machine and fail in CI (``CI=true``), so a missing install step cannot pass unnoticed.
Screenshots are saved in ``tests/e2e/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from server_process import serving

CHROMIUM = Path(os.environ.get("MINSHENG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--lang=zh-CN"]
CHINESE_UI = Path("/usr/lib/chromium/locales/zh-CN.pak")  # Debian package chromium-l10n
CHINESE_ENV = {"LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN:zh"}
ARTIFACTS = Path(__file__).parent / "artifacts"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (browser tests must run in CI; `make browser` installs Chromium)")
    pytest.skip(f"{reason}; `make browser` installs Chromium")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("server")
    with serving(f"sqlite:///{workdir / 'minsheng.db'}", workdir) as (_, base):
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    if not CHINESE_UI.exists():  # without it, date pickers show month/day/year, not 年/月/日
        _unavailable(f"Chromium's Chinese interface {CHINESE_UI} is missing (package chromium-l10n)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is missing (extra `web`)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     env={**os.environ, **CHINESE_ENV})
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def _page(browser: Any, server: str, **device: Any) -> Iterator[Any]:
    """A fresh page in a Chinese-locale browser context of its own, pointed at the server."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", base_url=server,
                                  **device)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A desktop-sized page (1024 × 800)."""
    with _page(browser, server, viewport={"width": 1024, "height": 800}) as p:
        yield p


@pytest.fixture
def narrow_page(browser: Any, server: str) -> Iterator[Any]:
    """A phone-sized page (360 × 740)."""
    with _page(browser, server, viewport={"width": 360, "height": 740}, device_scale_factor=2,
               is_mobile=True, has_touch=True) as p:
        yield p


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, name)`` saves a full-page screenshot as a test artefact."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
