"""HTTP hardening (issue #12, items 6-9): bounded bodies and images, no anonymous write reads a
body, strict JSON (no NaN, Infinity, 1e400 or lone surrogates), no 500 from a NUL in a path,
roles and sessions (who switches the mode, a revoked user's live stream, tokens kept out of URLs
and logs, reads closed by default), security headers. Over HTTP against the real app; the body
limits against a real `citywatch serve` process, whose memory is read from /proc."""

from __future__ import annotations

import json
import re
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.auth import token_cache
from citywatch.config import CitywatchConfig, load_config
from citywatch.domain.accounts import add_user, revoke_user
from citywatch.domain.db import open_database
from tests.ledger_support import BACKENDS, JPEG, Ledger, make_ledger
from tests.support import REPO, CitywatchProcess, ThreadServer, demo_config_dict, write_config

HOTLINE = {
    "source": "hotline",
    "ticket": "12345-1",
    "type": "illegal_parking",
    "description": "A van on the double yellow lines.",
    "location": "光明路 88 号",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _ledger(tmp_path: Path, *, anonymous_read: bool) -> Iterator[Ledger]:
    built = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", anonymous_read=anonymous_read)
    built.client = TestClient(built.client.app, raise_server_exceptions=False)
    yield built
    built.sink.close()
    built.database.dispose()


@pytest.fixture()
def open_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger whose reads are open to anonymous callers (as the demo's), on SQLite."""
    yield from _ledger(tmp_path, anonymous_read=True)


@pytest.fixture()
def closed_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger whose reads need a token."""
    yield from _ledger(tmp_path, anonymous_read=False)


def _json(client: TestClient, path: str, text: str, headers: dict[str, str]) -> httpx.Response:
    return client.post(path, content=text.encode(), headers={**headers, "Content-Type": "application/json"})


# --- item 9: reachable 500s --------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_in_a_body_are_a_422(open_ledger: Ledger, number: str) -> None:
    text = json.dumps({**HOTLINE, "deadline_h": 1.0}).replace("1.0", number)
    response = _json(open_ledger.client, "/api/cases", text, open_ledger.auth("operator"))
    assert response.status_code == 422, response.text
    assert "finite" in response.text
    nested = json.dumps({"to": "registered", "note": "x", "attachments": []})[:-1] + f', "x": [[{number}]]}}'
    response = _json(open_ledger.client, "/api/cases/1/transitions", nested, open_ledger.auth("operator"))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\ud83dy", "\\udc00\\ud800"])
def test_lone_surrogates_in_a_body_are_a_422(open_ledger: Ledger, escape: str) -> None:
    operator = open_ledger.auth("operator")
    text = json.dumps({**HOTLINE, "description": "@"}).replace('"@"', f'"{escape}"')
    assert _json(open_ledger.client, "/api/cases", text, operator).status_code == 422
    review = f'{{"action": "reject", "reason": "{escape}"}}'
    assert _json(open_ledger.client, "/api/events/1/review", review, operator).status_code == 422
    key = f'{{"action": "reject", "{escape}": 1}}'
    assert _json(open_ledger.client, "/api/events/1/review", key, operator).status_code == 422
    # a well-formed pair is an ordinary character
    pair = json.dumps({**HOTLINE, "description": "@"}).replace('"@"', '"\\ud83d\\ude97"')
    created = _json(open_ledger.client, "/api/cases", pair, operator)
    assert created.status_code == 201 and created.json()["description"] == "🚗"


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_odd_text_never_reaches_a_500_on_either_database(tmp_path: Path, database_url: str) -> None:
    """Over a real server: what strict JSON refuses is a 422 before the database sees it; a NUL
    (valid JSON, refused by PostgreSQL's text type) is a 422 there and stored by SQLite."""
    ledger = make_ledger(tmp_path, database_url)
    try:
        with ThreadServer(ledger.client.app) as server:
            headers = {**ledger.auth("operator"), "Content-Type": "application/json"}
            for n, (value, allowed) in enumerate(
                [("NaN", {422}), ('"\\ud800"', {422}), ('"a\\u0000b"', {201, 422}), ('"\\u202e\\ufeff"', {201})]
            ):
                text = json.dumps({**HOTLINE, "ticket": f"t-{n}", "description": "@"}).replace('"@"', value)
                response = httpx.post(f"{server.base}/api/cases", content=text.encode(), headers=headers)
                assert response.status_code in allowed, (value, response.text)
    finally:
        ledger.sink.close()
        ledger.database.dispose()


@pytest.mark.parametrize("path", ["/static/index.html%00.js", "/static/%00", "/api/cases/%00", "/%00"])
def test_a_nul_in_a_path_is_not_found(open_ledger: Ledger, path: str) -> None:
    assert open_ledger.client.get(path).status_code == 404


# --- item 8: roles and sessions ----------------------------------------------------------------


def test_reads_are_closed_unless_the_config_opens_them(tmp_path: Path) -> None:
    data = demo_config_dict(tmp_path)
    data.pop("api", None)
    assert CitywatchConfig.model_validate(data).api.anonymous_read is False
    assert load_config(REPO / "configs" / "demo.yaml").api.anonymous_read is True  # the demo opens them


def test_docs_metrics_and_console_config_need_a_reader_when_reads_are_closed(closed_ledger: Ledger) -> None:
    client, viewer = closed_ledger.client, closed_ledger.auth("viewer")
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc", "/api/console/config"):
        if path != "/api/console/config":
            assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401, path
        assert client.get(path, headers=viewer).status_code == 200, path
    # the sign-in page asks whether to offer anonymous reading: that, and nothing of the deployment
    assert client.get("/api/console/config").json() == {"anonymous_read": False}
    assert client.get("/api/console/config", headers=viewer).json()["districts"] == ["新华区"]
    for path in ("/", "/static/js/app.js", "/healthz"):  # the console can still show its sign-in
        assert client.get(path).status_code == 200, path


def test_the_mode_is_switched_by_an_operator_as_the_docs_say(closed_ledger: Ledger) -> None:
    client = closed_ledger.client
    assert client.put("/api/mode", json={"mode": "normal"}).status_code == 401
    assert client.put("/api/mode", json={"mode": "normal"}, headers=closed_ledger.auth("viewer")).status_code == 403
    switched = client.put("/api/mode", json={"mode": "normal"}, headers=closed_ledger.auth("operator"))
    assert switched.status_code == 200 and switched.json()["history"][0]["changed_by"] == "operator-1"
    assert client.put("/api/mode", json={"mode": "x" * 65}, headers=closed_ledger.auth("admin")).status_code == 422
    docs = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `PUT /api/mode`"))
    assert row.split("|")[2].strip() == "operator"
    roles = next(line for line in docs.splitlines() if line.startswith("| `operator` |"))
    assert "modes" in roles


def test_no_route_accepts_an_anonymous_write(open_ledger: Ledger) -> None:
    """Every write under /api answers 401 to a caller without a token, even with reads open; the
    stream ticket (no body, nothing stored) is one anonymous POST, as it serves the anonymous
    reader's live updates, and signing in with a username and password the other (an empty body
    is a 422; wrong credentials a 401, tests/test_sessions.py)."""
    checked = 0
    for template, operations in open_ledger.client.app.openapi()["paths"].items():
        if not template.startswith("/api/"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in {m.upper() for m in operations} & WRITE_METHODS:
            sign_in = (method, template) == ("POST", "/api/session")
            response = open_ledger.client.request(method, path, json={})
            expected = 200 if template == "/api/stream/ticket" else 422 if sign_in else 401
            assert response.status_code == expected, (method, template, response.text)
            bad = open_ledger.client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
            assert bad.status_code == (422 if sign_in else 401), (method, template)
            checked += 1
    assert checked >= 7


def test_token_query_parameter_only_where_no_header_can_be_sent(closed_ledger: Ledger) -> None:
    client, token = closed_ledger.client, closed_ledger.tokens["viewer"]
    assert client.get("/api/console/uptime", params={"token": token}).status_code == 401  # fetch sends headers
    assert client.get("/api/console/uptime", headers=closed_ledger.auth("viewer")).status_code == 200
    # an <img> cannot send one: the thumbnail still takes ?token= (404: no pipeline, but admitted)
    assert client.get("/api/cameras/campus-road/latest.jpg", params={"token": token}).status_code == 404
    assert client.get("/api/cameras/campus-road/latest.jpg").status_code == 401


def _stream_until_closed(base: str, ticket: str, on_hello: Callable[[], object], deadline_s: float) -> float:
    """Read the live stream; call `on_hello()` after the hello; answer how long after that the
    server ended the stream (fails past `deadline_s`)."""
    started = 0.0
    params = {"ticket": ticket, "status_every_s": 0.5}
    with (
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/api/stream", params=params) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: hello"):
                on_hello()
                started = time.monotonic()
            assert not started or time.monotonic() - started < deadline_s, "the stream stayed open"
    assert started
    return time.monotonic() - started


def test_a_revoked_users_live_stream_is_closed(open_ledger: Ledger) -> None:
    admin = open_ledger.auth("admin")
    with open_ledger.database.session() as session:
        other = add_user(session, "viewer-2", "viewer")
    with ThreadServer(open_ledger.client.app) as server:
        ticket = httpx.post(f"{server.base}/api/stream/ticket", headers=open_ledger.auth("viewer")).json()["ticket"]
        revoke = lambda: httpx.delete(f"{server.base}/api/users/viewer-1", headers=admin)  # noqa: E731
        assert _stream_until_closed(server.base, ticket, revoke, deadline_s=5) < 5
        # revoked by another process (`citywatch users revoke`): within the token cache's TTL
        token_cache(open_ledger.client.app.state.context.extras).ttl_s = 1.0
        headers = {"Authorization": f"Bearer {other}"}
        ticket = httpx.post(f"{server.base}/api/stream/ticket", headers=headers).json()["ticket"]

        def revoke_elsewhere() -> None:
            with open_ledger.database.session() as session:
                assert revoke_user(session, "viewer-2")

        assert _stream_until_closed(server.base, ticket, revoke_elsewhere, deadline_s=8) < 8


# --- item 6: images; free text ----------------------------------------------------------------


def png_bomb(side: int) -> bytes:
    """A 1-bit grayscale PNG of side x side zero pixels: ~100 KB that decodes to side² pixels."""
    packer = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)  # filter byte, then the packed row
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG claiming width x height (what a JPEG bomb sends)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + bytes(4096)


def test_image_bombs_are_refused_before_decoding(open_ledger: Ledger) -> None:
    operator = open_ledger.auth("operator")
    case = open_ledger.client.post("/api/cases", json=HOTLINE, headers=operator).json()["id"]
    bomb = png_bomb(30000)
    assert len(bomb) < 200_000
    for name, data in (("bomb.png", bomb), ("bomb.jpg", jpeg_header(65000, 65000))):
        started = time.monotonic()
        response = open_ledger.client.post(f"/api/cases/{case}/photos", files={"file": (name, data)}, headers=operator)
        assert response.status_code == 413, response.text
        assert time.monotonic() - started < 1.0
        assert "pixels" in response.json()["detail"]
    assert not list((Path(open_ledger.config.storage.evidence_dir) / "cases").rglob("*.png"))
    ok = open_ledger.client.post(f"/api/cases/{case}/photos", files={"file": ("a.jpg", JPEG)}, headers=operator)
    assert ok.status_code == 201 and ok.json()["width"] == 1


def test_free_text_and_attachments_are_bounded(open_ledger: Ledger) -> None:
    operator = open_ledger.auth("operator")
    case = open_ledger.client.post("/api/cases", json=HOTLINE, headers=operator).json()["id"]
    path = f"/api/cases/{case}/transitions"
    for attachments in (["x" * 501], ["a"] * 21):
        body = {"to": "dispatched", "team": "一中队", "attachments": attachments}
        assert open_ledger.client.post(path, json=body, headers=operator).status_code == 422
    body = {"to": "dispatched", "team": "一中队", "attachments": ["/api/cases/1/photos/x.jpg"] * 20}
    assert open_ledger.client.post(path, json=body, headers=operator).status_code == 200


def test_bodies_over_their_route_limit_are_a_413(open_ledger: Ledger) -> None:
    operator = open_ledger.auth("operator")
    case = open_ledger.client.post("/api/cases", json=HOTLINE, headers=operator).json()["id"]
    big = json.dumps({**HOTLINE, "description": "x" * (1024 * 1024)})
    assert _json(open_ledger.client, "/api/cases", big, operator).status_code == 413
    photo = JPEG + bytes(17 * 1024 * 1024)
    response = open_ledger.client.post(f"/api/cases/{case}/photos", files={"file": ("a.jpg", photo)}, headers=operator)
    assert response.status_code == 413
    photo = JPEG + bytes(2 * 1024 * 1024)  # over the JSON limit, within the photo route's own
    response = open_ledger.client.post(f"/api/cases/{case}/photos", files={"file": ("a.jpg", photo)}, headers=operator)
    assert response.status_code == 201


# --- security headers ----------------------------------------------------------------------------


def test_security_headers_on_the_console_and_the_api(open_ledger: Ledger) -> None:
    client = open_ledger.client
    for path in ("/", "/static/js/app.js", "/api/cases", "/healthz", "/api/nope", "/static/nope.js"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'", path
        assert "blob:" in policy["img-src"]  # the console shows images fetched with the token as blob: URLs
    # what the console loads matches the policy: its own scripts and styles, no inline script
    page = client.get("/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert all(src.startswith("/static/") for src in re.findall(r'(?:src|href)="([^"#]+)"', page) if src != "data:,")


# --- item 7: bodies (a real server process; its memory from /proc) ---------------------------


def _rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def _push_body(port: int, path: str, headers: dict[str, str], total: int, chunked: bool) -> tuple[int, float, int]:
    """POST `total` bytes (declared, or chunked) as fast as the server takes them; answer the
    status, the seconds until it answered and the bytes it took by then."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}{framing}\r\n\r\n"
    piece = b'{"d": "' + b"x" * 65_000 + b'", '
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request.encode())
        sock.setblocking(False)
        started, sent, answer, sending = time.monotonic(), 0, b"", True
        while time.monotonic() - started < 20 and b"\r\n\r\n" not in answer:
            readable, writable, _ = select.select([sock], [sock] if sending and sent < total else [], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data
            elif writable:
                try:
                    sent += sock.send(frame)
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):  # the server closed: read its answer
                    sending = False
        elapsed = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, elapsed, sent


@pytest.mark.e2e
def test_big_bodies_are_refused_at_once_with_bounded_memory(tmp_path: Path) -> None:
    data = demo_config_dict(tmp_path)
    data["api"] = {"anonymous_read": False}
    config_path = write_config(tmp_path, data)
    database = open_database(data["storage"]["database_url"])
    with database.session() as session:
        token = add_user(session, "op", "operator")
    database.dispose()
    log = tmp_path / "serve.log"
    with CitywatchProcess(config_path, log_path=log, command="serve") as server:
        pid, port, auth = server.process.pid, server.port, {"Authorization": f"Bearer {token}"}
        httpx.get(f"{server.base}/api/cases", headers=auth)
        before = _rss_kb(pid)
        size = 200 * 1024 * 1024
        for headers, chunked, expected in (({}, False, 401), (auth, False, 413), (auth, True, 413), ({}, True, 401)):
            status, elapsed, sent = _push_body(port, "/api/cases", headers, size, chunked)
            grown_mb = (_rss_kb(pid) - before) / 1024
            print(f"chunked={chunked} auth={bool(headers)}: {status} in {elapsed:.3f} s, {sent} B, +{grown_mb:.1f} MB")
            assert status == expected and elapsed < 1.0 and sent < 20 * 1024 * 1024
            assert grown_mb < 8
        # the server still answers, and a token in a URL never reaches the access log
        thumbnail = httpx.get(f"{server.base}/api/cameras/campus-road/latest.jpg", params={"token": token})
        assert thumbnail.status_code == 404
        ticket = httpx.post(f"{server.base}/api/stream/ticket", headers=auth).json()["ticket"]
        stream_done = threading.Event()

        def open_stream() -> None:
            with httpx.stream("GET", f"{server.base}/api/stream", params={"ticket": ticket}, timeout=5) as response:
                next(response.iter_lines())
            stream_done.set()

        threading.Thread(target=open_stream, daemon=True).start()
        assert stream_done.wait(10)
        time.sleep(0.3)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "latest.jpg?token=" in text and "/api/stream?ticket=" in text  # the access log is on
    assert token not in text and ticket not in text
