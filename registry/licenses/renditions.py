"""QR images and printable PDFs: rendered on first request — QR codes in a thread, PDFs in a process pool,
once however many ask at the same moment — and cached in the database."""

from __future__ import annotations

import asyncio
from datetime import datetime

import anyio.to_thread
from sqlalchemy.exc import IntegrityError

from registry.context import Registry
from registry.licence_types import LicenseType
from registry.models import License, Rendition
from registry.rendering.pdf import PrintableLicense, PrintRow, render_license_pdf
from registry.rendering.qr import render_qr_png, render_qr_svg

MEDIA_TYPES = {"qr.png": "image/png", "qr.svg": "image/svg+xml", "pdf": "application/pdf"}
STATUS_TEXT = {
    "active": "有效",
    "suspended": "暂扣",
    "revoked": "撤销",
    "cancelled": "注销",
    "expired": "失效",
    "transferred": "办理转出",
    "withdrawn": "吊销",
    "superseded": "已被新版本替代",
}
HOLDER_ID_LABELS = {"resident_id": "公民身份号码", "uscc": "统一社会信用代码", "passport": "护照号码"}


def cn_date(value: datetime) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def printable(lt: LicenseType, licence: License, issuer_name: str, fields: dict[str, object]) -> PrintableLicense:
    rows = tuple(
        PrintRow(label=f.label, label_en=f.label_en, value=str(fields[f.name]), long=f.name in lt.print.long_fields)
        for f in lt.fields
        if f.name in fields
    )
    return PrintableLicense(
        title=lt.print.title,
        title_en=lt.print.title_en,
        identifier=licence.identifier,
        type_name=lt.name,
        holder_name=licence.holder_name,
        holder_id_label=HOLDER_ID_LABELS.get(licence.holder_id_type, "证件号码"),
        holder_id_number=licence.holder_id_number,
        issuer_name=issuer_name,
        valid_from=cn_date(licence.valid_from),
        valid_until=cn_date(licence.valid_until) if licence.valid_until else "长期",
        status_text=STATUS_TEXT[licence.status],
        rows=rows,
        qr_payload=licence.qr_payload,
        orientation=lt.print.orientation,
        issued_on=cn_date(licence.issued_at),
        compact_qr=licence.compact_jcs is not None,
    )


# Renderings under way in this worker: concurrent first requests for one licence's PDF share one.
_in_flight: dict[tuple[str, str, str], asyncio.Future[bytes]] = {}


# The PDF prints the licence's status, so a status change must delete the licence's renditions.
async def rendition(reg: Registry, licence: License, kind: str, issuer_name: str, fields: dict[str, object]) -> bytes:
    async with reg.db.read() as session:
        cached = await session.get(Rendition, (licence.identifier, kind))
    if cached is not None:
        return cached.content
    key = (licence.identifier, kind, licence.status)
    running = _in_flight.get(key)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    _in_flight[key] = future
    try:
        content = await _render_and_store(reg, licence, kind, issuer_name, fields)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it, and nobody is warned of an unseen one
        raise
    else:
        future.set_result(content)
        return content
    finally:
        del _in_flight[key]


async def _render_and_store(
    reg: Registry, licence: License, kind: str, issuer_name: str, fields: dict[str, object]
) -> bytes:
    if kind == "qr.png":
        content = await anyio.to_thread.run_sync(render_qr_png, licence.qr_payload)
    elif kind == "qr.svg":
        content = await anyio.to_thread.run_sync(render_qr_svg, licence.qr_payload)
    else:
        doc = printable(reg.catalog.get(licence.license_type), licence, issuer_name, fields)
        content = await reg.render_pool.run(render_license_pdf, doc)
    try:
        async with reg.db.transaction() as session:
            # A status change while this rendered deleted the renditions: keep no copy printed before it.
            current = await session.get(License, licence.identifier)
            if current is not None and current.status == licence.status:
                session.add(Rendition(identifier=licence.identifier, kind=kind, content=content))
    except IntegrityError:
        pass  # another worker rendered it first; both renderings are of the same licence
    return content
