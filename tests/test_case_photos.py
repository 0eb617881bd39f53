"""Case photos over HTTP on SQLite and PostgreSQL: a real JPEG and PNG are stored and served back,
referenced by a `handled` step; non-images, oversize files, unknown cases and viewers are refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from api.routes import case_photos
from tests.ledger_support import BACKENDS, Ledger
from tests.support import DOG


def _upload(ledger: Ledger, case_id: int, name: str, data: bytes, role: str = "operator", kind: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    return ledger.client.post(
        f"/api/cases/{case_id}/photos", files={"file": (name, data, kind)}, headers=ledger.auth(role)
    )


@pytest.mark.footage  # dog.jpg from the shared media
@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_photos_are_stored_referenced_and_served(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    if not DOG.is_file():
        pytest.fail(f"shared image missing: {DOG} (set CITYWATCH_SHARED_DIR)")
    case_id = ledger.event()["case_id"]
    for to, extra in (("registered", {}), ("dispatched", {"team": "一中队"})):
        moved = ledger.client.post(
            f"/api/cases/{case_id}/transitions", json={"to": to, **extra}, headers=ledger.auth("operator")
        )
        assert moved.status_code == 200, moved.text
    jpeg = DOG.read_bytes()
    stored = _upload(ledger, case_id, "after.jpg", jpeg)
    assert stored.status_code == 201, stored.text
    photo = stored.json()
    original = cv2.imread(str(DOG))
    assert (photo["width"], photo["height"]) == (original.shape[1], original.shape[0]) and photo["bytes"] == len(jpeg)
    assert _upload(ledger, case_id, "again.jpg", jpeg).json()["url"] == photo["url"]  # same bytes, one file
    encoded, png = cv2.imencode(".png", np.full((40, 60, 3), 200, np.uint8))
    assert encoded
    second = _upload(ledger, case_id, "sign.png", png.tobytes(), kind="image/png").json()
    assert second["url"].endswith(".png") and (second["width"], second["height"]) == (60, 40)

    handled = ledger.client.post(
        f"/api/cases/{case_id}/transitions",
        json={"to": "handled", "note": "车辆已驶离", "attachments": [photo["url"], second["url"]]},
        headers=ledger.auth("operator"),
    )
    assert handled.status_code == 200, handled.text
    trail = ledger.client.get(f"/api/cases/{case_id}", headers=ledger.auth("viewer")).json()["actions"]
    assert trail[-1]["attachments"] == [photo["url"], second["url"]]
    served = ledger.client.get(photo["url"], headers=ledger.auth("viewer"))
    assert served.status_code == 200 and served.content == jpeg and served.headers["content-type"] == "image/jpeg"
    assert ledger.client.get(second["url"], headers=ledger.auth("viewer")).headers["content-type"] == "image/png"

    # refusals: not an image, a truncated JPEG, too big, no such case, a viewer, a made-up name
    assert _upload(ledger, case_id, "notes.txt", b"hello", kind="text/plain").status_code == 415
    assert _upload(ledger, case_id, "cut.jpg", jpeg[:200]).status_code == 415
    monkeypatch.setattr(case_photos, "MAX_PHOTO_BYTES", 1000)
    assert _upload(ledger, case_id, "big.jpg", jpeg).status_code == 413
    monkeypatch.undo()
    assert _upload(ledger, 999_999, "x.jpg", jpeg).status_code == 404
    assert _upload(ledger, case_id, "x.jpg", jpeg, role="viewer").status_code == 403
    assert ledger.client.post(f"/api/cases/{case_id}/photos", files={"file": ("x.jpg", jpeg)}).status_code == 401
    missing = ledger.client.post(f"/api/cases/{case_id}/photos", data={"x": "1"}, headers=ledger.auth("operator"))
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "file"
    for name in ("..%2F..%2Fledger.db", "nope.jpg", "0" * 64 + ".jpg"):
        made_up = ledger.client.get(f"/api/cases/{case_id}/photos/{name}", headers=ledger.auth("viewer"))
        assert made_up.status_code == 404
