"""Refresh docs/screenshot-chat.png from the real chat page: `.venv/bin/python scripts/screenshot.py`.

Serves the page for the index in the configured data folder (build it with `cfsp-assistant ingest`) on a free
loopback port, asks the start screen's mutual-defence question in Debian's Chromium, opens the first source on
the whole article, and saves the picture. The tests never write into docs/; this command does, when asked.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

QUESTION = "Does the EU have a mutual defence clause like NATO?"
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshot-chat.png"


def main() -> None:
    """Serve, ask, open the first card, save the picture."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn
    from playwright.sync_api import sync_playwright

    from assistant.config import load_settings
    from assistant.pipeline import Assistant
    from assistant.serve.api import create_app
    from assistant.serve.feedback import FeedbackStore

    settings = load_settings()
    assistant = Assistant.from_settings(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feedback = FeedbackStore(Path(os.environ.get("TMPDIR", "/tmp")) / f"cfsp-screenshot-{os.getpid()}.sqlite")
    server = uvicorn.Server(
        uvicorn.Config(create_app(assistant, settings, feedback), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("error: Debian's chromium is needed: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("#cfsp-question textarea", QUESTION)
        page.press("#cfsp-question textarea", "Enter")
        page.wait_for_selector("#cfsp-chat .cfsp-sources", timeout=60_000)
        card = page.locator("#cfsp-chat li.cfsp-source").first
        card.get_by_text("Read the whole article").click()
        page.locator("#cfsp-chat .user-row").last.evaluate("e => e.scrollIntoView({block: 'start'})")
        OUT.parent.mkdir(exist_ok=True)
        page.screenshot(path=OUT)
        browser.close()
    server.should_exit = True
    print(f"saved {OUT}")


if __name__ == "__main__":
    main()
