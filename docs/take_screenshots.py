"""Photograph every page of a running app for the README: `make run` in one shell, then
`.venv/bin/python docs/take_screenshots.py [http://127.0.0.1:8501]` (Debian's chromium + Playwright)."""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = [  # (file name, share link, text that shows the page has rendered)
    ("1_search", "/?clip=metal-003&k=6", "Top 6"),
    ("2_latent_map", "/map?map=umap&color=genre", "Latent map"),
    ("3_baselines", "/baselines?clip=metal-003&k=5", "Evaluation"),
    ("4_index", "/index", "Clips per genre"),
]


def main(base: str) -> None:
    out = Path(__file__).parent / "screenshots"
    out.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, link, text in PAGES:
            page.goto(base.rstrip("/") + link)
            page.get_by_text(text).first.wait_for(timeout=120_000)
            page.wait_for_timeout(4000)  # let plotly and the players settle
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8501")
