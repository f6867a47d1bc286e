"""Helpers shared by the tests/test_orchestration_*.py files (no fixtures: plain functions)."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "dagster_home.template.yaml"


@contextlib.contextmanager
def project_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """A persistent instance in ``home`` configured exactly by the committed template."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server on 127.0.0.1 recording the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(
                {"path": self.path, "content_type": self.headers.get("Content-Type"),
                 "json": json.loads(body.decode("utf-8"))}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/bilan", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

