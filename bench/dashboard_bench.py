"""Time the dashboard's Compare page on an experiment of 100,000 trials.

Builds the experiment straight into a SQLite file (bulk inserts into the records tables: 4
variants x 500 tasks x 50 epochs, two grades per trial), then measures request to rendered page:
the Compare script under Streamlit's AppTest (cold cache, then warm), and, when
REGISTRY_TEST_CHROMIUM names a Chromium binary, a real ``registry dashboard`` loaded in headless
Chromium until the verdict and the statistics table (``st.table``, test id ``stTable``) are on
screen: first a link to Compare opened on a freshly started server (the figure the aim of 3 s is
for), then Compare after the landing page.

Run: python bench/dashboard_bench.py [--trials N] [--db PATH] [--link-only] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.synthetic import ARMS, build_experiment  # noqa: E402
from registry.database import Database  # noqa: E402


def time_after_dwell(db_url: str, experiment_id: int, dwell: float = 5.0) -> float:
    """Seconds for the first Compare view when the user first spends ``dwell`` seconds on the
    Experiments page (which analyses the newest experiment in the background)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["REGISTRY_DB"] = db_url
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120).run()
    time.sleep(dwell)
    at.query_params["experiment"] = str(experiment_id)
    at.switch_page("views/compare_view.py")
    started = time.perf_counter()
    at.run()
    return time.perf_counter() - started


def time_apptest(db_url: str, experiment_id: int) -> tuple[float, float]:
    """Seconds to render the Compare page under AppTest: first view, then a cached one.

    The app's landing page runs first, as on a server that is already up: imports are paid
    once per process, not per request.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["REGISTRY_DB"] = db_url
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120).run()
    times = []
    for _ in range(2):
        at.query_params["experiment"] = str(experiment_id)
        at.switch_page("views/compare_view.py")
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"Compare page failed: {at.exception[0].message}")
        if not any("Verdict" in box.value for box in (*at.success, *at.info, *at.warning)):
            raise SystemExit("Compare page rendered without a verdict")
    return times[0], times[1]


def server_cpu(base_url: str) -> float:
    """CPU seconds (user + sys) used so far by the dashboard server listening at ``base_url``."""
    port = base_url.rpartition(":")[2]
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"--server.port" in argv and argv[argv.index(b"--server.port") + 1] == port.encode():
                fields = (proc / "stat").read_text().rpartition(")")[2].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    raise SystemExit(f"no dashboard server found on port {port}")


def time_link(db_url: str, experiment_id: int, chromium: str) -> tuple[float, float]:
    """Seconds from navigation to the verdict and the statistics table on screen when a link to
    the Compare view is the first page a freshly started ``registry dashboard`` serves (nothing
    imported, read or analysed for it before the request), and the server's CPU seconds in that
    time."""
    from playwright.sync_api import sync_playwright

    from dashboard.server import running_dashboard

    with running_dashboard(db_url) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cpu = server_cpu(base_url)
            started = time.perf_counter()
            page.goto(f"{base_url}/compare?experiment={experiment_id}")
            page.get_by_text("Verdict:").first.wait_for(timeout=120_000)
            page.get_by_test_id(STATISTICS).first.wait_for(timeout=120_000)
            return time.perf_counter() - started, server_cpu(base_url) - cpu
        finally:
            browser.close()


def time_browser(db_url: str, experiment_id: int, chromium: str) -> tuple[float, float]:
    """Seconds from navigation to the verdict and the statistics table on screen, in real
    Chromium on the real ``registry dashboard``: first view of the experiment, then a reload."""
    from playwright.sync_api import sync_playwright

    from dashboard.server import running_dashboard

    with running_dashboard(db_url) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base_url, wait_until="networkidle")  # the landing page: server warm
            page.get_by_text("Experiments").first.wait_for(timeout=60_000)
            times = []
            for _ in range(2):
                started = time.perf_counter()
                page.goto(f"{base_url}/compare?experiment={experiment_id}")
                page.get_by_text("Verdict:").first.wait_for(timeout=120_000)
                page.get_by_test_id(STATISTICS).first.wait_for(timeout=120_000)
                times.append(time.perf_counter() - started)
                # The run goes on below the table: let it end before the next request.
                page.get_by_text("Pairwise judge").first.wait_for(timeout=120_000)
            return times[0], times[1]
        finally:
            browser.close()


STATISTICS = "stTable"  # the test id of Compare's statistics table (st.table)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100_000, help="A multiple of 4 x 50.")
    parser.add_argument("--db", help="SQLite file to build into (default: a temporary one).")
    parser.add_argument(
        "--link-only",
        action="store_true",
        help="Only the figure the aim is for: a link to Compare opened on a fresh server.",
    )
    parser.add_argument("--runs", type=int, default=3, help="Fresh servers for that figure.")
    args = parser.parse_args()
    tasks = max(1, args.trials // (len(ARMS) * 50))
    with tempfile.TemporaryDirectory() as tmp:
        db_path = args.db or str(Path(tmp) / "bench.db")
        db = Database(db_path)
        started = time.perf_counter()
        exp_id = build_experiment(db, tasks=tasks, epochs=50)
        built = time.perf_counter() - started
        n = len(ARMS) * tasks * 50
        print(f"built experiment {exp_id}: {n:,} trials, {2 * n:,} grades in {built:.1f} s")
        chromium = os.environ.get("REGISTRY_TEST_CHROMIUM")
        if chromium:
            runs = [time_link(db.url, exp_id, chromium) for _ in range(args.runs)]
            wall, cpu = [w for w, _ in runs], [c for _, c in runs]
            print(
                "Compare page, headless Chromium, a link opened on a freshly started server, "
                f"request to verdict + table ({args.runs} servers): wall min {min(wall):.2f} s, "
                f"median {statistics.median(wall):.2f} s (aim < 3 s); server CPU min "
                f"{min(cpu):.2f} s, median {statistics.median(cpu):.2f} s"
            )
        else:
            print("browser timing skipped: REGISTRY_TEST_CHROMIUM is not set")
        if args.link_only:
            db.dispose()
            return
        cold, warm = time_apptest(db.url, exp_id)
        print(f"Compare page, AppTest: {cold:.2f} s first view, {warm:.2f} s cached")
        dwelt = time_after_dwell(db.url, exp_id)
        print(f"Compare page, AppTest, after 5 s on the Experiments page: {dwelt:.2f} s")
        if chromium:
            first, again = time_browser(db.url, exp_id, chromium)
            print(
                f"Compare page, headless Chromium, request to verdict + table: {first:.2f} s "
                f"first view of the experiment, {again:.2f} s cached"
            )
        db.dispose()


if __name__ == "__main__":
    main()
