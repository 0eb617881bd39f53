"""Nothing lost: the database goes away while events are being written, and comes back.

The sink talks to PostgreSQL through a TCP proxy started here (the machine's PostgreSQL keeps
running); the test kills the proxy mid-stream — open connections cut, new ones refused — and
restarts it. Every event must arrive exactly once, in order, with its evidence files.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from citywatch.config import CitywatchConfig
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.events import EventEnd
from citywatch.sink import EventSink
from citywatch.spool import Spool
from tests.ledger_support import parking_record
from tests.support import TcpProxy, demo_config_dict

pytestmark = pytest.mark.postgres


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
            record = parking_record("campus-road", len(sent))
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
