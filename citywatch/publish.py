"""Publishing: every event, case transition and camera status to MQTT and to webhooks, off-thread.

`Publisher.publish(kind, payload)` never blocks the pipeline: it puts the message on a bounded
queue (counting drops when full) that a background thread drains into paho-mqtt (QoS 1 by
default: paho keeps QoS>0 messages across reconnects and resends them) and another thread POSTs to
webhooks, retrying with exponential backoff (tenacity). Topics: `<prefix>/events`,
`<prefix>/cases`, `<prefix>/<camera>/status` (retained). Payloads are documented in docs/api.md.
Every string of a payload is redacted as it leaves (`citywatch.redaction.redact_payload`): no
camera, database or broker password reaches the broker or a webhook.

Example:
    >>> publisher = Publisher.from_config(config)  # doctest: +SKIP
    >>> database.subscribers.append(publisher.on_commit)  # events and cases, after each commit  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import paho.mqtt.client as paho_mqtt
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from citywatch import redaction
from citywatch.config import CitywatchConfig, MqttConfig, WebhookConfig
from vision.streams import StreamHealth, health_snapshot

log = logging.getLogger(__name__)

KINDS = ("event", "case", "status")
_STOP = object()


@dataclass
class PublishStats:
    """Counters of the publisher (exposed for health and metrics)."""

    queued: int = 0
    published: int = 0
    dropped: int = 0
    mqtt_errors: int = 0
    webhook_sent: int = 0
    webhook_failed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class Publisher:
    """MQTT and webhook publishing through bounded queues and background threads."""

    def __init__(
        self,
        mqtt: MqttConfig | None = None,
        webhooks: list[WebhookConfig] | None = None,
        max_queue: int = 10_000,
        client_id: str | None = None,
    ):
        self.mqtt_config = mqtt if mqtt is not None and mqtt.enabled else None
        self.webhooks = list(webhooks or [])
        if self.mqtt_config is not None:
            redaction.register_secret(self.mqtt_config.password)
        for hook in self.webhooks:
            redaction.register_url(hook.url)
        self.stats = PublishStats()
        self._mqtt_queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._hook_queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._threads: list[threading.Thread] = []
        self._client: Any = None
        self._client_id = client_id or f"citywatch-{int(time.time() * 1000) % 10**9}"
        self.connected = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: CitywatchConfig) -> Publisher:
        """A publisher for the config's `mqtt:` and `webhooks:` sections (started)."""
        publisher = cls(config.mqtt, config.webhooks)
        publisher.start()
        return publisher

    @property
    def active(self) -> bool:
        """True when anything is configured to publish to."""
        return self.mqtt_config is not None or bool(self.webhooks)

    def topic(self, kind: str, camera_id: str | None = None) -> str:
        """The MQTT topic of a message kind."""
        prefix = self.mqtt_config.topic_prefix if self.mqtt_config else "citywatch"
        if kind == "status":
            return f"{prefix}/{camera_id}/status"
        return f"{prefix}/{kind}s"

    def start(self) -> None:
        """Connect to the broker (in the background) and start the worker threads."""
        if self._threads:
            return
        if self.mqtt_config is not None:
            self._client = self._make_client(self.mqtt_config)
            self._threads.append(threading.Thread(target=self._run_mqtt, name="publish-mqtt", daemon=True))
        if self.webhooks:
            self._threads.append(threading.Thread(target=self._run_webhooks, name="publish-webhooks", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued (up to `timeout`), then disconnect."""
        for q in (self._mqtt_queue, self._hook_queue):
            with contextlib.suppress(queue.Full):
                q.put(_STOP, timeout=0.5)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
        self._threads = []

    def publish(self, kind: str, payload: dict[str, Any], camera_id: str | None = None) -> bool:
        """Queue one message; False (and counted as dropped) when a queue is full. Never blocks."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        message = (kind, camera_id or payload.get("camera_id"), payload)
        ok = True
        with self._lock:
            self.stats.queued += 1
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        if self.mqtt_config is not None:
            ok = self._offer(self._mqtt_queue, message) and ok
        if kind != "status" and any(kind in hook.kinds for hook in self.webhooks):
            ok = self._offer(self._hook_queue, message) and ok
        return ok

    def on_commit(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """A `Database` subscriber: publish what a committed session queued."""
        for kind, payload in messages:
            camera = payload.get("camera_id") if kind == "event" else None
            self.publish(kind, payload, camera)

    def report_status(self, health_source: Callable[[], dict[str, Any]], every_s: float = 10.0) -> threading.Thread:
        """Publish every camera's stream state to `<prefix>/<camera>/status` every `every_s` seconds."""

        def loop() -> None:
            while self._threads:
                for camera_id, health in health_source().items():
                    self.publish("status", status_payload(camera_id, health), camera_id)
                time.sleep(every_s)

        thread = threading.Thread(target=loop, name="publish-status", daemon=True)
        thread.start()
        return thread

    def _offer(self, q: queue.Queue[Any], message: Any) -> bool:
        try:
            q.put_nowait(message)
            return True
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
            return False

    def _make_client(self, config: MqttConfig) -> Any:
        client = paho_mqtt.Client(paho_mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id, clean_session=True)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        if config.username:
            client.username_pw_set(config.username, config.password)
        client.on_connect = lambda *_args: self.connected.set()
        client.on_disconnect = lambda *_args: self.connected.clear()
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()
        return client

    def _run_mqtt(self) -> None:
        assert self.mqtt_config is not None
        qos = self.mqtt_config.qos
        while True:
            message = self._mqtt_queue.get()
            if message is _STOP:
                return
            kind, camera_id, payload = message
            retain = kind == "status"
            try:
                data = json.dumps(redaction.redact_payload(payload), ensure_ascii=False, default=str)
                info = self._client.publish(self.topic(kind, camera_id), data, qos=qos, retain=retain)
                if info.rc not in (0, 4):  # 4 = not connected yet: paho keeps QoS>0 messages and resends
                    raise RuntimeError(f"paho rc {info.rc}")
                with self._lock:
                    self.stats.published += 1
            except Exception:
                with self._lock:
                    self.stats.mqtt_errors += 1
                log.exception("MQTT publish failed")

    def _run_webhooks(self) -> None:
        with httpx.Client() as client:
            while True:
                message = self._hook_queue.get()
                if message is _STOP:
                    return
                kind, _camera, payload = message
                body = {"kind": kind, "payload": redaction.redact_payload(payload)}
                for hook in self.webhooks:
                    if kind not in hook.kinds:
                        continue

                    @retry(
                        stop=stop_after_attempt(hook.retries + 1),
                        wait=wait_exponential(0.2, max=30),
                        retry=retry_if_exception_type(httpx.HTTPError),
                        reraise=True,
                    )
                    def send(url: str = hook.url, timeout: float = hook.timeout_s, body: dict = body) -> None:
                        response = client.post(url, json=body, timeout=timeout)
                        response.raise_for_status()

                    try:
                        send()
                        with self._lock:
                            self.stats.webhook_sent += 1
                    except Exception as exc:
                        with self._lock:
                            self.stats.webhook_failed += 1
                        log.warning("webhook %s failed after %d attempt(s): %s", hook.url, hook.retries + 1, exc)


def status_payload(camera_id: str, health: StreamHealth | dict[str, Any]) -> dict[str, Any]:
    """The JSON of `<prefix>/<camera>/status`: the camera's health snapshot (`health_snapshot`, or
    an already serialised one), its id and when it was taken."""
    snapshot = health if isinstance(health, dict) else health_snapshot(health)
    return {"camera_id": camera_id, **snapshot, "at": time.time()}
