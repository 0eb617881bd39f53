"""The `mqtt:` and `webhooks:` sections: where events, case transitions and camera status go."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from citywatch.config.base import ConfigModel


class MqttConfig(ConfigModel):
    """The MQTT broker every event, case transition and camera status is published to."""

    enabled: bool = Field(False, title="Enabled", description="Publish to MQTT.")
    host: str = Field("127.0.0.1", title="Host", description="Broker host.")
    port: int = Field(1883, ge=1, le=65535, title="Port", description="Broker TCP port.")
    topic_prefix: str = Field(
        "citywatch",
        min_length=1,
        title="Topic prefix",
        description="Topics are <prefix>/events, <prefix>/cases and <prefix>/<camera>/status.",
    )
    username: str | None = Field(None, title="User name", description="Broker user, when it requires one.")
    password: str | None = Field(None, title="Password", description="Broker password (use ${VAR}).")
    qos: Literal[0, 1, 2] = Field(1, title="QoS", description="MQTT quality of service of every message.")


WebhookKind = Literal["event", "case"]


class WebhookConfig(ConfigModel):
    """An HTTP endpoint that receives every event and case transition as a JSON POST."""

    url: str = Field(min_length=1, title="URL", description="http(s) URL the JSON is POSTed to.")
    kinds: list[WebhookKind] = Field(
        default_factory=lambda: list(get_args(WebhookKind)), title="Kinds", description="What is sent to it."
    )
    timeout_s: float = Field(5.0, gt=0.0, le=60.0, title="Timeout (s)", description="Per attempt.")
    retries: int = Field(5, ge=0, le=20, title="Retries", description="Attempts after the first one.")
