"""The words the ledger writes for people: rule types and object labels in Chinese, and the
generated case descriptions and audit lines (the operators' language; ids stay in `data`).

Pure functions; the console translates its own interface (api/static/js/i18n.js), this module
the texts that are stored with a case and read in reports, exports and the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

#: Rule types as the bureau names them.
TYPE_NAMES: dict[str, str] = {
    "illegal_parking": "机动车违停",
    "non_motor_parking": "非机动车乱停放",
    "litter": "暴露垃圾",
    "waterlogging": "道路积水",
    "parking_space_occupied": "霸占停车资源",
    "floating_debris": "河面漂浮物",
}
#: Detection labels (Citywatch's, `vision.labels`) as an operator says them.
LABEL_NAMES: dict[str, str] = {
    "car": "小汽车",
    "truck": "货车",
    "bus": "客车",
    "motorcycle": "摩托车",
    "bicycle": "自行车",
    "e-bike": "电动自行车",
    "tricycle": "三轮车",
    "person": "行人",
    "litter": "垃圾",
    "water": "积水",
    "low_speed_ev": "四轮低速电动车",
    "traffic_cone": "锥桶",
    "parking_lock": "地锁",
    "chair": "椅子",
    "obstacle": "杂物",
    "debris": "漂浮物",
}


def type_name(rule_type: str) -> str:
    """The Chinese name of a rule type (the type itself when unknown)."""
    return TYPE_NAMES.get(rule_type, rule_type)


def label_name(label: str | None) -> str:
    """The Chinese name of a detection label ("目标" when none)."""
    return LABEL_NAMES.get(label or "", label or "目标")


def case_description(rule_type: str, label: str | None, place: str) -> str:
    """What a camera case is about, e.g. "校园路口 / 路边禁停区：发现机动车违停（货车）"."""
    return f"{place}：发现{type_name(rule_type)}（{label_name(label)}）"


def evidence_caption(label: str | None, rule_type: str) -> str:
    """The caption drawn on an evidence photo over the object's box, e.g. "货车 · 机动车违停"."""
    return f"{label_name(label)} · {type_name(rule_type)}"


def short_uid(uid: str) -> str:
    """An event's uid as a person quotes it (its first 8 characters)."""
    return uid[:8]


def opened_from_event(uid: str) -> str:
    return f"由告警 {short_uid(uid)} 生成案件"


def event_confirmed(uid: str) -> str:
    return f"告警 {short_uid(uid)} 经审核确认，立案"


def event_attached(uid: str) -> str:
    return f"新告警 {short_uid(uid)} 并入本案"


def verification_failed(uid: str) -> str:
    return f"核查未通过：摄像头再次发现问题（告警 {short_uid(uid)}），退回处置"


def zone_seen_clear(zone: str, since: datetime, timezone: str = "Asia/Shanghai") -> str:
    """The automatic verification's note: the zone (its name) clear since a local time."""
    return f"摄像头自动核查：{zone} 自 {since.astimezone(ZoneInfo(timezone)):%m-%d %H:%M:%S} 起无问题"


def hotline_ticket(ticket: str) -> str:
    return f"12345 热线工单 {ticket}"
