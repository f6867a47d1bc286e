"""Headless Chromium, optional: the report's PDF, and a page check over the DevTools protocol.

Chromium is not a Python package: Debian's ``chromium`` provides it (``apt-get install -y
chromium``). When none is found, :func:`find_chromium` returns None and the PDF is skipped by the
caller with a warning. The browser is always started offline-minded: a fresh profile, no
background networking, no component update, no sync, and a dead proxy so that nothing leaves the
machine even if a page asked for it (the report asks for nothing).

:class:`PageCheck` drives the browser over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
NUL-separated JSON messages): no port is opened and no extra dependency is needed.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV_VAR = "BILAN_CHROMIUM"  # explicit path or name; "", "0", "false" or "no" disables the PDF

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--proxy-server=http://127.0.0.1:9",  # discard port: any network request fails at once
    "--proxy-bypass-list=<-loopback>",
    "--hide-scrollbars",
    "--mute-audio",
)


_DISABLED = ("", "0", "false", "no")


def _lookup() -> tuple[str | None, str]:
    """The browser's path, or None with why (in French, for the run's warning or error): a
    ``BILAN_CHROMIUM`` that disables the PDF or names no program is not a missing package (an
    engineer told to install a Chromium that is installed looks in the wrong place)."""
    env = os.environ.get(ENV_VAR)
    if env is not None:
        if env in _DISABLED:
            return None, f"Chromium désactivé par {ENV_VAR}={env!r}"
        found = env if Path(env).exists() else shutil.which(env)
        return found, f"{ENV_VAR}={env!r} ne désigne aucun programme"
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found, ""
    return None, "aucun Chromium headless installé (apt-get install -y chromium)"


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or None (``$BILAN_CHROMIUM`` wins; "0" disables)."""
    return _lookup()[0]


def why_not_found() -> str:
    """Why :func:`find_chromium` returned None."""
    return _lookup()[1]


# Printing one local page needs no site isolation: one process (browser, renderer, GPU and
# network services together) instead of ~11. Measured on the SCALE=100 report: peak RSS over the
# browser's processes 1,089 MB -> 347 MB (PSS 390 -> 341 MB), same pages and text. Chromium calls
# the mode a debugging aid, so a failure falls back to the default process model.
ONE_PROCESS = ("--single-process", "--no-zygote")


def print_pdf(html_path: Path, pdf_path: Path, chromium: str, timeout: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, the page's own @page margins, no header/footer)."""
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.parent / f".{pdf_path.name}.tmp"
    failures = []
    for extra in (ONE_PROCESS, ()):
        mode = " ".join(extra) or "default"
        tmp.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="bilan-chromium-") as profile:
            cmd = [chromium, *FLAGS, *extra, f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--print-to-pdf={tmp}",
                   Path(html_path).resolve().as_uri()]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                failures.append(f"{mode}: timeout after {timeout} s")
                continue
        if proc.returncode == 0 and tmp.exists() and tmp.stat().st_size > 0:
            os.replace(tmp, pdf_path)
            return pdf_path
        failures.append(f"{mode}: exit {proc.returncode}, {proc.stderr.strip()[-500:]}")
    tmp.unlink(missing_ok=True)
    raise RuntimeError("chromium --print-to-pdf failed: " + " | ".join(failures))


@dataclass
class PageResult:
    url: str
    title: str = ""
    text: str = ""
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    size: tuple[int, int] = (0, 0)


class PageCheck:
    """Open one page in headless Chromium and report console errors, requests, a screenshot."""

    def __init__(self, chromium: str, wrapper: list[str] | None = None, timeout: float = 60):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="bilan-chromium-")
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()

        def plumb():  # in the child: fd 3 = commands in, fd 4 = responses out
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        cmd = [*(wrapper or []), chromium, *FLAGS, f"--user-data-dir={self._profile.name}",
               "--remote-debugging-pipe", "--window-size=1200,900", "about:blank"]
        self.proc = subprocess.Popen(cmd, preexec_fn=plumb, pass_fds=(3, 4),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._id = 0
        self._responses: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- protocol ---------------------------------------------------------------------------
    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._responses[-1] = {"closed": True}
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._responses[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        mid = self._id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while mid not in self._responses:
                if -1 in self._responses:
                    raise RuntimeError(f"chromium closed the pipe during {method}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} in {self.timeout} s")
                self._cond.wait(left)
            resp = self._responses.pop(mid)
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp.get("result", {})

    def _drain(self, sink: list[dict], until: str | None = None, timeout: float = 0.0) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ev = self._events.get(timeout=max(left, 0.0)) if left > 0 else \
                    self._events.get_nowait()
            except queue.Empty:
                return False
            sink.append(ev)
            if until and ev.get("method") == until:
                return True

    # -- the check ----------------------------------------------------------------------------
    def open(self, url: str, width: int = 1200, settle_s: float = 0.5) -> PageResult:
        events: list[dict] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        target_id = pages[0]["targetId"] if pages else \
            self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})[
            "sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=sid)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, sid)
        self._drain(events)
        events.clear()  # only what the page itself does counts
        nav = self.call("Page.navigate", {"url": url}, sid)
        res = PageResult(url=url)
        if nav.get("errorText"):
            res.failed_requests.append(f"{url}: {nav['errorText']}")
        if not self._drain(events, until="Page.loadEventFired", timeout=self.timeout):
            raise TimeoutError(f"{url} did not finish loading in {self.timeout} s")
        time.sleep(settle_s)
        self._drain(events)
        res.title = self.call("Runtime.evaluate", {"expression": "document.title",
                                                   "returnByValue": True}, sid)["result"]["value"]
        res.text = self.call("Runtime.evaluate", {"expression": "document.body.innerText",
                                                  "returnByValue": True}, sid)["result"]["value"]
        metrics = self.call("Page.getLayoutMetrics", session=sid)
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        w, h = int(content["width"]), int(content["height"])
        res.size = (w, h)
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}, sid)
        res.screenshot = base64.b64decode(shot["data"])
        self._drain(events)
        for ev in events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                res.console_errors.append(" ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                res.exceptions.append(d.get("text", "") + " " + str(
                    d.get("exception", {}).get("description", "")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                res.console_errors.append(f"{e.get('source')}: {e.get('text')} {e.get('url', '')}")
            elif m == "Network.requestWillBeSent":
                res.requests.append(p.get("request", {}).get("url", ""))
            elif m == "Network.loadingFailed":
                res.failed_requests.append(f"{p.get('type')}: {p.get('errorText')}")
        return res

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_child_w, self._from_child_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def __enter__(self) -> PageCheck:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
