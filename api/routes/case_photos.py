"""Case photos: the enforcement team's on-site pictures (处置照片), uploaded and served back.

`POST /api/cases/{id}/photos` (operator) takes one JPEG or PNG as multipart `file`, checks that it
really is one (magic bytes; the size its header declares, refused over `MAX_PHOTO_PIXELS` before
any pixel is decoded, so a decompression bomb costs nothing; then a full decode with OpenCV),
writes it under
`<evidence_dir>/cases/<id>/` named by its SHA-256 (an upload repeated is stored once) and answers
its URL; that URL goes into the `attachments` of the transition it documents (`handled`, usually).
The file is on disk before any action can reference it, as with event evidence.
`GET /api/cases/{id}/photos/{name}` serves it back to viewers.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from fastapi import APIRouter, Depends, File, HTTPException, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, DbSession, Operator, require_role
from api.schemas import Problem
from citywatch.domain.tables import Case

router = APIRouter(prefix="/api/cases", tags=["cases"], dependencies=[Depends(require_role("viewer"))])

#: Largest accepted photo (a phone JPEG is 2-6 MB).
MAX_PHOTO_BYTES = 15 * 1024 * 1024
#: Largest accepted photo in pixels (a 48 MP phone photo is 8000 x 6000): decoding one takes
#: ~150 MB; a 130 KB PNG can declare 32768 x 32768 (1 G pixels, 3 GB decoded).
MAX_PHOTO_PIXELS = 50_000_000
_KINDS = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
#: JPEG start-of-frame markers (they carry the image size): C0-CF but DHT (C4), JPG (C8), DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png)$")
CaseId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="Case id.")]


class PhotoOut(BaseModel):
    """A stored photo: put `url` in a transition's `attachments`."""

    url: str = Field(examples=["/api/cases/42/photos/9f86d0…b0f00a08.jpg"])
    name: str
    bytes: int
    width: int
    height: int


def photo_dir(evidence_dir: str, case_id: int) -> Path:
    """Where the photos of one case live."""
    return Path(evidence_dir) / "cases" / str(case_id)


def _kind(data: bytes) -> str | None:
    return next((kind for magic, kind in _KINDS.items() if data.startswith(magic)), None)


def declared_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) as the image's header declares it, read without decoding any pixel; None
    when the header is not there (then it is no readable image)."""
    if kind == "png":  # the signature, then the IHDR chunk: length 13, type, width, height
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    position = 2  # after SOI: segments until the first start-of-frame
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


@router.post(
    "/{case_id}/photos",
    response_model=PhotoOut,
    status_code=201,
    summary="Upload a photo for a case step",
    responses={
        400: {"model": Problem, "description": "The body is not valid multipart form data"},
        404: {"model": Problem, "description": "No such case"},
        413: {"model": Problem, "description": "Over 15 MB, or over 50 million pixels"},
        415: {"model": Problem, "description": "Not a JPEG or PNG image"},
        **AUTH_RESPONSES,
    },
)
def upload_photo(
    case_id: CaseId,
    file: Annotated[UploadFile, File(description="A JPEG or PNG.")],
    session: DbSession,
    context: Context,
    user: Operator,
) -> PhotoOut:
    """Store one photo (JPEG or PNG, up to 15 MB and 50 million pixels) and answer its URL for a
    transition's `attachments`."""
    if session.get(Case, case_id) is None:
        raise HTTPException(404, detail=f"case {case_id} not found")
    data = file.file.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(413, detail=f"photo over {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    kind = _kind(data)
    size = declared_size(data, kind) if kind else None
    if size is not None and size[0] * size[1] > MAX_PHOTO_PIXELS:
        width, height = size
        raise HTTPException(413, detail=f"photo of {width} x {height} pixels, over {MAX_PHOTO_PIXELS:,} pixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if size and min(size) > 0 else None
    if image is None:
        raise HTTPException(415, detail=f"{file.filename or 'the file'} is not a readable JPEG or PNG image")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    folder = photo_dir(context.config.storage.evidence_dir, case_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():  # write then rename: a reader never sees half a photo
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            part.write(data)
            part.flush()
            os.fsync(part.fileno())
        os.replace(part.name, target)
    height, width = image.shape[:2]
    return PhotoOut(url=f"/api/cases/{case_id}/photos/{name}", name=name, bytes=len(data), width=width, height=height)


@router.get(
    "/{case_id}/photos/{name}",
    summary="One photo of a case",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {"model": Problem}, **AUTH_RESPONSES},
)
def get_photo(case_id: CaseId, name: Annotated[str, PathParam(max_length=80)], context: Context) -> FileResponse:
    """A photo uploaded for this case (the `url` the upload answered)."""
    if not _NAME.fullmatch(name):  # only names this service made: no path ever comes from the request
        raise HTTPException(404, detail="no such photo")
    file = photo_dir(context.config.storage.evidence_dir, case_id) / name
    if not file.is_file():
        raise HTTPException(404, detail="no such photo")
    return FileResponse(file, media_type="image/png" if name.endswith(".png") else "image/jpeg")
