"""Nothing lost: the database goes away while events are being written, and comes back.

The sink talks to PostgreSQL through a TCP proxy started here (the machine's PostgreSQL keeps
running); the test kills the proxy mid-stream — open connections cut, new ones refused — and
restarts it. Every event must arrive exactly once, in order, with its evidence files.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.db import open_database
from citywatch.config import CitywatchConfig
from citywatch.events import EventEnd, EventRecord, EventSink, register_cameras
from citywatch.spool import Spool
from tests.conftest import demo_config_dict
from tests.ledger_support import JPEG, database_url, pg_template  # noqa: F401

pytestmark = pytest.mark.postgres
# ruff: noqa: F811  (fixtures imported from tests.ledger_support)


class TcpProxy:
    """A loopback TCP forwarder that can be killed (cutting every connection) and restarted."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
            server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        server.settimeout(0.1)
        while self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._server is not server:
                client.close()
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _record(camera: str, i: int) -> EventRecord:
    return EventRecord(
        uid=str(uuid.uuid4()),
        type="illegal_parking",
        camera_id=camera,
        rule_id="kerb-no-parking",
        zone_id="kerb",
        label="car",
        track_id=i,
        first_seen_s=float(i),
        triggered_s=float(i) + 20,
        score=0.9,
        box=(1.0, 2.0, 3.0, 4.0),
        occurred_wall_s=time.time(),
        images={"trigger": JPEG, "entry": JPEG},
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_events_survive_a_database_outage_exactly_once_in_order(tmp_path: Path, database_url: str) -> None:
    direct = open_database(database_url)
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    proxied_url = database_url.replace(":5432/", f":{proxy.port}/")
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(proxied_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, tmp_path / "evidence", cameras=config.cameras, spool=tmp_path / "spool.db", retry_s=0.1)
    delivered: list[str] = []
    sink.listeners.append(lambda payload: delivered.append(payload["uid"]))
    sent: list[str] = []
    spooled_max = 0

    def write(n: int, ended: bool = False, outage: tuple[int, int] | None = None) -> None:
        nonlocal spooled_max
        for i in range(n):
            if outage and i == outage[0]:
                proxy.stop()  # the database goes away in the middle of the stream
            if outage and i == outage[1]:
                proxy.start()
            record = _record("campus-road", len(sent))
            sink.record(record)
            sent.append(record.uid)
            if ended:
                sink.end(EventEnd(record.uid, "campus-road", record.triggered_s + 5, 25.0))
            spooled_max = max(spooled_max, sink.spooled)
            time.sleep(0.005)

    try:
        write(5)
        assert sink.spooled == 0
        writer = threading.Thread(target=write, args=(40, True, (10, 25)))  # down for events 10..24
        writer.start()
        writer.join(60)
        write(5)
        assert sink.flush(timeout=60), f"{sink.spooled} still spooled"
    finally:
        proxy.stop()
        sink.close()
        database.dispose()

    assert spooled_max >= 15 * 2  # every record and end written while it was down went to the spool
    with direct.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT uid, evidence, ended_s, case_id FROM events ORDER BY id")).all()
        cases = connection.execute(sa.text("SELECT count(*), sum(event_count) FROM cases")).one()
    direct.dispose()
    assert [row.uid for row in rows] == sent  # every event, once, in order
    assert sorted(delivered) == sorted(sent) and len(set(delivered)) == len(sent)
    assert all(row.ended_s is not None for row in rows[5:45])
    for row in rows:
        assert {item["kind"] for item in row.evidence} == {"trigger", "entry"}
        assert all(Path(item["path"]).is_file() for item in row.evidence)
    assert cases == (1, len(sent))  # all in the one open case of that camera, zone and type
    assert len(Spool(tmp_path / "spool.db")) == 0


def test_spool_is_ordered_and_durable(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    seqs = [spool.append("record", {"uid": f"u{i}"}) for i in range(5)]
    spool.remove(seqs[0])
    spool.close()
    reopened = Spool(tmp_path / "s.db")  # what append returned survives a restart
    assert [body["uid"] for _, _, body in reopened.peek(10)] == ["u1", "u2", "u3", "u4"]
    assert len(reopened) == 4 and os.path.getsize(tmp_path / "s.db") > 0
