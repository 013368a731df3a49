"""Render a page in headless Chromium through the DevTools protocol and report what a user would see.

Used by the report tests: console errors and uncaught exceptions, network requests, which
elements are present and visible (images decoded), a screenshot and a print to PDF.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
    "--remote-debugging-port=0",
]

# For each selector: how many match, and how many are rendered (non-zero box, not hidden, images decoded).
_VISIBILITY_JS = """
(function (selectors) {
  var out = {};
  selectors.forEach(function (sel) {
    var els = Array.prototype.slice.call(document.querySelectorAll(sel));
    var shown = els.filter(function (el) {
      var r = el.getBoundingClientRect();
      var st = getComputedStyle(el);
      var decoded = el.tagName !== "IMG" || (el.complete && el.naturalWidth > 0);
      return r.width > 0 && r.height > 0 && st.visibility !== "hidden" && st.display !== "none" &&
        parseFloat(st.opacity) > 0 && decoded && el.checkVisibility();
    });
    out[sel] = [els.length, shown.length];
  });
  return JSON.stringify({elements: out, text: document.body.innerText});
})(%s)
"""


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (Debian package 'chromium'; .ci/run installs it)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "the websocket-client package is missing (pip install -e '.[dev]')"
    return None


@dataclass
class Rendered:
    """What loading one page produced."""

    console_errors: list[str] = field(default_factory=list)  # console.error, uncaught exceptions, log errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    elements: dict[str, list[int]] = field(default_factory=dict)  # selector -> [present, visible]
    text: str = ""
    screenshot: np.ndarray | None = None  # H x W x 3 uint8
    pdf: bytes = b""

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("data:", "file:", "about:"))]


class _Session:
    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))


def _page_ws_url(profile: Path, proc: subprocess.Popen, timeout: float = 60) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit {proc.poll()}): {proc.stderr.read()[-2000:]!r}")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        if time.monotonic() > deadline:
            raise RuntimeError("chromium has no page target")
        time.sleep(0.1)


def render(path: Path, selectors: list[str]) -> Rendered:
    """Load ``path`` in a fresh headless Chromium and collect a :class:`Rendered`."""
    import cv2

    profile = Path(tempfile.mkdtemp(prefix="aigvqa-chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        s = _Session(_page_ws_url(profile, proc))
        for domain in ("Runtime", "Log", "Network", "Page"):
            s.call(f"{domain}.enable")
        s.call("Page.navigate", url=path.resolve().as_uri())
        s.wait_for("Page.loadEventFired")
        result = s.call("Runtime.evaluate", expression=_VISIBILITY_JS % json.dumps(selectors), returnByValue=True)
        state = json.loads(result["result"]["value"])
        shot = s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        img = cv2.imdecode(np.frombuffer(base64.b64decode(shot["data"]), np.uint8), cv2.IMREAD_COLOR)
        pdf = base64.b64decode(s.call("Page.printToPDF")["data"])
        s.call("Runtime.evaluate", expression="0")  # drain events queued after the load
        out = Rendered(elements=state["elements"], text=state["text"], screenshot=img, pdf=pdf)
        for e in s.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.console_errors.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.console_errors.append(p["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                out.requests.append(p["request"]["url"])
        s.ws.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
