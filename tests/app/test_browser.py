"""The explorer in a real browser: ``streamlit run`` on a free 127.0.0.1 port, driven by Playwright with
Debian's headless Chromium (``/usr/bin/chromium``; ``scripts/ensure_browser.sh`` installs it).

Opens the seed finding's page by URL, checks its title, claim and similarity section, accepts one
candidate, reloads, sees the new edge; opens the seed claim's page after two runs were recorded and sees its
evidence weighed with forest plots; saves screenshots under ``tests/artifacts/``. Skipped only
when Chromium is missing outside CI; in CI (``CI`` set) a missing browser fails the test.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from tests.conftest import ROOT, SEED_FINDING

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 60_000

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing in CI: run scripts/ensure_browser.sh (make test does)")
    pytest.skip(f"{CHROMIUM} not installed (run scripts/ensure_browser.sh); the browser test runs in CI",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def app_db(embedded_template, tmp_path) -> Path:
    """A seeded database with every node embedded (the similarity section needs vectors)."""
    path = tmp_path / "browser.db"
    shutil.copy(embedded_template, path)
    return path


@pytest.fixture
def server(app_db, tmp_path):
    with serving(app_db, tmp_path) as url:
        yield url


@contextmanager
def serving(app_db: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run`` on ``app_db`` on a free local port; always stopped, with its whole process group."""
    from app.server import streamlit_argv

    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "FINDINGS_DB": str(app_db), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(streamlit_argv(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _local_only(route) -> None:
    """Let the page reach the app on 127.0.0.1 only; every other request is refused."""
    if urlparse(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def test_seed_finding_page_in_a_real_browser(server, app_db, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from graph.api import Graph

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chrome-profile"), executable_path=CHROMIUM, headless=True, args=CHROME_ARGS,
            viewport={"width": 1400, "height": 1800})  # tall: the app scrolls inside its own container
        try:
            context.route("**/*", _local_only)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{server}/?node={quote(SEED_FINDING, safe='')}")

            title = "For small CL loss weights epsilon, IIA is maintained (potentially improved)"
            expect(page.get_by_role("heading", name=re.compile(re.escape(title)))).to_be_visible()
            expect(page.get_by_text("The CL auxiliary loss can directly reduce representational divergence")
                   .first).to_be_visible()
            expect(page.get_by_text(re.compile(r"Related by similarity \(\d+\)"))).to_be_visible()
            accept = page.get_by_role("button", name="Accept as edge")
            expect(accept.first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "node_page.png"), full_page=True)

            assoc = page.get_by_text(re.compile(r"^associated_with → \(\d+\)$"))
            before = int(re.search(r"\((\d+)\)", assoc.inner_text()).group(1))
            accept.first.click()
            expect(page.get_by_text(re.compile(r"^Added edge "))).to_be_visible()

            page.reload()
            expect(page.get_by_role("heading", name=re.compile(re.escape(title)))).to_be_visible()
            expect(page.get_by_text(f"associated_with → ({before + 1})", exact=True)).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "node_page_after_accept.png"), full_page=True)
        finally:
            context.close()

    groups = {grp.edge_type: grp for grp in Graph(str(app_db)).neighbourhood(SEED_FINDING) if grp.direction == "out"}
    assert groups["associated_with"].count == before + 1


def test_claim_page_with_its_forest_plots_in_a_real_browser(app_db, tmp_path):
    """Two runs recorded against the seed claim's published numbers: the claim's page shows its status, the
    pooled estimate and the forest plots drawn by plotly in the browser."""
    from playwright.sync_api import expect, sync_playwright

    from graph.api import Graph
    from tests.app.test_pages import CLAIM
    from tests.test_evidence import FLOOR, record

    g = Graph(str(app_db))
    record(g, [0, 1, 2, 3, 4], [("IIA", 0.999, 0.0007, "iia_argmax", None),
                                ("EMD", 0.009, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    record(g, [5, 6, 7, 8, 9], [("EMD", 0.0075, 0.002, "grant2025_geomloss_sinkhorn", FLOOR)])
    g.store.dispose()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serving(app_db, tmp_path) as url, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chrome-profile"), executable_path=CHROMIUM, headless=True, args=CHROME_ARGS,
            viewport={"width": 1400, "height": 2400})
        try:
            context.route("**/*", _local_only)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{url}/?node={quote(CLAIM, safe='')}")
            expect(page.get_by_role("heading", name="Evidence")).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text("evidence: supported").first).to_be_visible(timeout=UI_TIMEOUT_MS)
            expect(page.get_by_text(re.compile(r"Pooled over k = 3")).first).to_be_visible(timeout=UI_TIMEOUT_MS)
            plots = page.get_by_test_id("stPlotlyChart")
            expect(plots).to_have_count(2, timeout=UI_TIMEOUT_MS)  # EMD (two runs, the paper) and IIA (one, the paper)
            expect(plots.first.get_by_text("pooled, random effects (DL)").first).to_be_attached(timeout=UI_TIMEOUT_MS)
            plots.first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "claim_evidence.png"), full_page=True)
        finally:
            context.close()
