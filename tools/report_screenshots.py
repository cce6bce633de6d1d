"""Screenshots of the HTML report as a reader clicks through it (headless Chromium).

    python tools/report_screenshots.py results/embedded/report.html /tmp/shot \\
        digits "Per-dimension KL and MI" "MI per dimension" eye:pixelcnn

Each argument after the output prefix is a click: the deepest element whose text equals it,
or ``eye:<row>`` for the "show" button of the table row labelled <row>; a PNG
``<prefix><i>.png`` is taken after each click. Needs Debian's ``chromium``; the DevTools
client (websocket-client, from PyPI) is installed into a temporary folder on first use, not
into the project's environment.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PORT = 9333
CLIENT_DIR = Path(tempfile.gettempdir()) / "vae_tfp_cdp"


def _websocket():
    if not CLIENT_DIR.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(CLIENT_DIR),
             "websocket-client"], check=True,
        )  # fmt: skip
    sys.path.insert(0, str(CLIENT_DIR))
    import websocket

    return websocket


def _click_script(target: str) -> str:
    if target.startswith("eye:"):
        name = json.dumps(target[4:])
        return f"""(() => {{
            const td = [...document.querySelectorAll('td')]
                .find(e => e.textContent.trim() === {name});
            if (!td) return 'missing';
            const el = td.closest('tr').querySelector('a, button');
            el.dispatchEvent(new MouseEvent('click', {{bubbles: true}})); return 'ok'; }})()"""
    text = json.dumps(target)
    return f"""(() => {{
        const els = [...document.querySelectorAll('*')]
            .filter(e => e.textContent.trim() === {text});
        if (!els.length) return 'missing'; els[els.length - 1].click(); return 'ok'; }})()"""


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    report, prefix, clicks = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3:]
    if not report.is_file():
        sys.exit(f"no report at {report}: build it first (make report EXPERIMENT=...)")
    websocket = _websocket()
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         f"--remote-debugging-port={PORT}", "--window-size=1400,1100", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json"))
                break
            except OSError:
                time.sleep(0.2)
        page = next(p for p in pages if p["type"] == "page")
        socket = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True)
        counter = iter(range(1, 10**6))

        def call(method: str, **params):
            ident = next(counter)
            socket.send(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads(socket.recv())
                if message.get("id") == ident:
                    return message.get("result", {})

        call("Page.enable")
        call("Page.navigate", url=report.as_uri())
        time.sleep(6)
        for i, target in enumerate(clicks or [""]):
            if target:
                outcome = call("Runtime.evaluate", expression=_click_script(target))
                print(target, outcome["result"].get("value"))
                time.sleep(3)
            shot = call("Page.captureScreenshot", format="png")
            Path(f"{prefix}{i}.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.kill()


if __name__ == "__main__":
    main()
