"""A throwaway `http.server` on loopback serving one folder (downloads are tested offline)."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    redirects: dict[str, str] = {}

    def log_message(self, *args: object) -> None: ...

    def send_head(self):  # a path in `redirects` answers 302 to its target; the rest is served from the folder
        target = self.redirects.get(self.path)
        if target is None:
            return super().send_head()
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None


class LocalServer:
    def __init__(self, folder: Path, redirects: dict[str, str] | None = None):
        """`redirects` maps a path ('/go') to where it sends the client (a URL, '{url}' standing for this server)."""
        handler = functools.partial(type("Handler", (_Quiet,), {"redirects": {}}), directory=str(folder))
        self._redirects = handler.func.redirects
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._redirects.update({k: v.format(url=self.url, port=self.httpd.server_address[1])
                                for k, v in (redirects or {}).items()})
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
