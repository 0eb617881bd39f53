"""The new-alert sound and desktop notification (issue #17), in Debian's Chromium: with the top
bar's toggle on, an alert the server records rings by its rule's priority (normal one tone, high a
repeated tone and a notification that stays, low nothing) and never for the alerts already there;
nor for one decided before the console looked at it; with the toggle off, nothing rings.

Headless Chromium has no speakers and no notification daemon, so the page's `AudioContext` and
`Notification` are replaced by recorders before its scripts run (`page.add_init_script`): the only
stand-ins here, for parts that cannot exist on a test machine. Everything else is real: the
server, its database and sink, the live stream and the console's own code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.browser.conftest import sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import KERB_ZONE, ThreadServer, demo_config_dict, kerb_rule

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

# Headless Chromium has no speakers and no notification daemon: these recorders stand in for
# window.Notification and window.AudioContext (installed by page.add_init_script before the console loads).
RECORDERS = """
window.__alerts = { tones: [], notes: [], asked: 0 };
class RecordingNotification {
  static permission = "default";
  static async requestPermission() {
    window.__alerts.asked += 1;
    RecordingNotification.permission = "granted";
    return "granted";
  }
  constructor(title, options) { window.__alerts.notes.push({ title, ...options }); }
  close() {}
}
class RecordingAudioContext {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createOscillator() {
    const oscillator = { type: "", frequency: { value: 0 }, connect() {}, stop() {},
      start() { window.__alerts.tones.push(oscillator.frequency.value); } };
    return oscillator;
  }
  createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} }; }
}
window.Notification = RecordingNotification;
window.AudioContext = RecordingAudioContext;
"""


def _rule(rule_id: str, zone: str, priority: str) -> dict:
    return {**kerb_rule(), "id": rule_id, "zones": [zone], "case": {"priority": priority}}


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """One camera with a normal, a high and a low priority rule, each on a zone of its own."""
    camera = demo_config_dict(tmp_path)["cameras"][0]
    camera["zones"] = [{"id": zone, "polygon": KERB_ZONE} for zone in ("kerb", "lane", "corner")]
    camera["rules"] = [_rule("kerb-no-parking", "kerb", "normal"), _rule("lane-no-parking", "lane", "high"),
                       _rule("corner-no-parking", "corner", "low")]  # fmt: skip
    built = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", extra={"cameras": [camera]})
    yield built
    built.sink.close()
    built.database.dispose()


def alerts(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate("window.__alerts")


def test_alerts_ring_by_priority_when_on(console_page, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    page.add_init_script(RECORDERS)
    before = ledger.event()  # already there when the console starts: never rings
    with ThreadServer(create_app(ledger.config, ledger.database)) as server:
        sign_in(page, server.base, ledger.tokens["operator"])
        page.wait_for_selector(f"#event-{before['id']}")
        page.wait_for_selector("#live.on")
        assert page.inner_text("#alerts") == "提醒：关"
        page.click("#alerts")
        page.wait_for_function("() => localStorage.getItem('cw.alerts') === 'on'")
        assert page.inner_text("#alerts") == "提醒：开"
        assert alerts(page) == {"tones": [], "notes": [], "asked": 1}  # consent asked once, nothing rang

        ledger.event()  # normal: one tone, a notification that goes by itself
        page.wait_for_function("() => window.__alerts.notes.length === 1")
        normal = alerts(page)
        assert normal["tones"] == [880]
        assert normal["notes"][0]["requireInteraction"] is False
        assert normal["notes"][0]["title"] == "新告警：违章停车"
        assert "Campus road junction" in normal["notes"][0]["body"]

        ledger.event(zone="lane", rule="lane-no-parking")  # high: a repeated tone, a notification that stays
        page.wait_for_function("() => window.__alerts.notes.length === 2")
        high = alerts(page)
        assert high["tones"][1:] == [988, 740, 988, 740, 988, 740]
        assert high["notes"][1]["requireInteraction"] is True

        quiet = ledger.event(zone="corner", rule="corner-no-parking")  # low: nothing
        page.wait_for_selector(f"#event-{quiet['id']}")
        ledger.event()  # a normal one after it: once it rang, the low one was looked at and stayed silent
        page.wait_for_function("() => window.__alerts.notes.length === 3")
        assert alerts(page)["tones"][7:] == [880]

        # decided before the console looked at it (another operator was quicker): the page's reads of
        # the alert are held until it is confirmed on the server, and then it must not ring
        held: list = []
        single_event = re.compile(r".*/api/events/\d+$")
        page.route(single_event, lambda route: held.append(route))
        ledger.event(zone="lane", rule="lane-no-parking")  # high: it would ring six tones
        deadline = time.monotonic() + 10
        while len(held) < 2 and time.monotonic() < deadline:  # the queue's read and the alert's
            page.wait_for_timeout(100)
        assert len(held) == 2
        event_id = int(held[0].request.url.rsplit("/", 1)[1])
        review = httpx.post(
            f"{server.base}/api/events/{event_id}/review", json={"action": "confirm"}, headers=ledger.auth("operator")
        )
        review.raise_for_status()
        for route in held:
            route.continue_()
        page.unroute(single_event)
        page.wait_for_selector(f"#event-{event_id}", state="detached")  # the queue saw it decided
        ledger.event()  # the next one rings; the decided one did not
        page.wait_for_function("() => window.__alerts.notes.length >= 4")
        page.wait_for_timeout(300)
        assert alerts(page)["tones"][8:] == [880] and len(alerts(page)["notes"]) == 4

        page.reload()  # the choice is remembered; the alerts now on the page do not ring again
        page.wait_for_selector("#live.on")
        page.wait_for_selector(f"#event-{quiet['id']}")
        assert page.inner_text("#alerts") == "提醒：开"
        page.wait_for_timeout(1000)
        assert alerts(page) == {"tones": [], "notes": [], "asked": 0}
        page.goto("about:blank")


def test_nothing_rings_when_off(console_page, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    page.add_init_script(RECORDERS)
    with ThreadServer(create_app(ledger.config, ledger.database)) as server:
        sign_in(page, server.base, ledger.tokens["operator"])
        page.wait_for_selector("#live.on")
        high = ledger.event(zone="lane", rule="lane-no-parking")
        page.wait_for_selector(f"#event-{high['id']}")  # the queue saw it arrive
        normal = ledger.event()
        page.wait_for_selector(f"#event-{normal['id']}")
        page.wait_for_timeout(1500)
        assert alerts(page) == {"tones": [], "notes": [], "asked": 0}
        page.goto("about:blank")
