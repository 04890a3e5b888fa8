"""HTTP for windows: open a case, add another party's code, read the case."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from registry import errors
from registry.auth.deps import provide_principal
from registry.auth.tokens import Principal
from registry.cases import copies, service
from registry.cases.schemas import CaseCreate, CaseOut, CaseShareCode, CommitmentCreate, CommitmentOut
from registry.context import Registry


class CaseController(Controller):
    path = "/api/v1/cases"
    tags = ["windows"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @post(
        "/",
        status_code=201,
        summary="Open a case and pull its materials / 办件调取",
        description="With the holder's share code (亮码) or a standing consent: for each material the verified "
        "licence (pulled, with its verdict) or missing. Every licence read is logged for the holder.",
    )
    async def open_case(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], data: JSONBody[CaseCreate]
    ) -> CaseOut:
        return await service.open_case(registry, principal, data)

    @get(
        "/",
        summary="The agency's cases of a day / 当日办件",
        description="Newest first: the service item, when, whose, how many materials were pulled (paper spared) and "
        "how many are still missing. `date` is a China calendar day (YYYY-MM-DD), today by default.",
    )
    async def list_cases(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        day: Annotated[str | None, QueryParameter(name="date", max_length=10)] = None,
        limit: FromQuery[int] = 100,
    ) -> list[service.CaseSummary]:
        return await service.cases_of_day(registry, principal, _day(day), limit=limit)

    @post("/{case_id:str}/share-codes", status_code=200, summary="Another party's code joins the case / 追加亮证码")
    async def add_share_code(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        case_id: FromPath[str],
        data: JSONBody[CaseShareCode],
    ) -> CaseOut:
        return await service.add_share_code(registry, principal, case_id, data.share_code, data.party)

    @post("/{case_id:str}/commitments", status_code=200, summary="Commit to a missing material / 告知承诺")
    async def commit(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        case_id: FromPath[str],
        data: JSONBody[CommitmentCreate],
    ) -> CaseOut:
        return await service.commit(registry, principal, case_id, data)

    @post("/{case_id:str}/refresh", status_code=200, summary="Pull again under the case's consent / 重新调取")
    async def refresh(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], case_id: FromPath[str]
    ) -> CaseOut:
        return await service.refresh(registry, principal, case_id)

    @get(
        "/{case_id:str}/materials.pdf",
        summary="Annotated copies of the case's materials / 加注件",
        media_type="application/pdf",
    )
    async def materials_pdf(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], case_id: FromPath[str]
    ) -> Response[bytes]:
        pdf, filename = await copies.materials_pdf(registry, principal, case_id)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store"},
        )

    @get("/{case_id:str}", summary="A case / 办件详情")
    async def get_case(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], case_id: FromPath[str]
    ) -> CaseOut:
        return await service.get_case(registry, principal, case_id)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise errors.ValidationFailed("date 须为 YYYY-MM-DD / date must be YYYY-MM-DD", field="date") from exc


class CommitmentController(Controller):
    path = "/api/v1/commitments"
    tags = ["windows"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @get("/", summary="The agency's open commitments / 承诺件")
    async def list_commitments(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        overdue: FromQuery[bool] = False,
    ) -> list[CommitmentOut]:
        return await service.commitments(registry, principal, overdue_only=overdue)
