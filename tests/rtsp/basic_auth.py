"""A fake RTSP endpoint for credential tests: Basic authentication, then 404 (no stream)."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading


class BasicAuthRtsp:
    """A loopback RTSP endpoint that asks for Basic credentials and records what the client sends;
    with the expected credentials it answers DESCRIBE with 404 (there is no stream to give). With
    `expected=None` it refuses everyone (401 to every request)."""

    def __init__(self, expected: str | None = None) -> None:
        self.expected = expected
        self.received: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    lines = head.decode("latin-1").split("\r\n")
                    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                    cseq, auth = headers.get("cseq", "0"), headers.get("authorization", "")
                    given = base64.b64decode(auth.split()[1]).decode() if auth.startswith("Basic ") else None
                    if given is not None:
                        self.received.append(given)
                    if self.expected is None or given != self.expected:
                        status = '401 Unauthorized\r\nWWW-Authenticate: Basic realm="camera"'
                    elif lines[0].startswith("OPTIONS"):
                        status = "200 OK\r\nPublic: OPTIONS, DESCRIBE"
                    else:
                        status = "404 Not Found"
                    conn.sendall(f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n\r\n".encode())

    def close(self) -> None:
        self.sock.close()
