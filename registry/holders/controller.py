"""HTTP for holders: login, my licences, 亮码, standing consents, agents (代办), and my access log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from registry.auth.controller import TokenResponse
from registry.auth.deps import provide_principal
from registry.auth.tokens import HOLDER_SCOPES, Principal, mint_holder_token
from registry.context import Registry
from registry.holders import service as holders
from registry.holders.service import PasswordIdentityProvider
from registry.http.ratelimit import client_key
from registry.licenses import service as licenses
from registry.licenses.schemas import LicensePublic
from registry.models import AgentGrant, ShareCode
from registry.rendering.qr import render_qr_svg
from registry.sharing import service as sharing
from registry.sharing.schemas import (
    AccessLogOut,
    AgentCreate,
    AgentOut,
    AgentsOut,
    ConsentCreate,
    ConsentOut,
    HolderLogin,
    ShareCodeCreate,
    ShareCodeOut,
    ShareCodeStatus,
    wire_time,
)


class HolderAuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/holder-token", status_code=200, summary="Holder login / 持证人登录")
    async def holder_token(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], data: JSONBody[HolderLogin]
    ) -> TokenResponse:
        registry.login_limiter.take(client_key(request))
        identity = await (registry.identity or PasswordIdentityProvider(registry)).authenticate(
            data.id_number, data.password
        )
        token, ttl = mint_holder_token(registry, identity.id_number)
        return TokenResponse(access_token=token, token_type="Bearer", expires_in=ttl, scope=" ".join(HOLDER_SCOPES))  # noqa: S106


def _code_fields(row: ShareCode) -> dict[str, Any]:
    return dict(
        id=row.id,
        expires_at=wire_time(row.expires_at) or "",
        max_uses=row.max_uses,
        uses=row.uses,
        audience=row.audience,
        service_code=row.service_code,
        license_ids=row.license_ids,
        license_types=row.license_types,
        fields=row.fields,
        purpose=row.purpose,
        on_behalf_of=row.holder_id_number if row.created_by != row.holder_id_number else None,
        revoked=row.revoked_at is not None,
    )


def _code_out(row: ShareCode, code: str | None = None) -> ShareCodeOut:
    return ShareCodeOut(code=code, qr_svg=render_qr_svg(code).decode() if code else None, **_code_fields(row))


async def _grants_out(registry: Registry, grants: list[AgentGrant]) -> list[AgentOut]:
    names = await sharing.holder_names(
        registry, {g.principal_id_number for g in grants} | {g.agent_id_number for g in grants}
    )
    return [AgentOut.of(g, names) for g in grants]


class MeController(Controller):
    """Everything here acts for the logged-in holder, or — with ``on_behalf_of`` — for a principal who made
    them their agent ("share" lets an agent list and share; "all" also consents and reads the log)."""

    path = "/api/v1/me"
    tags = ["holder"]  # noqa: RUF012
    dependencies = {"principal": Provide(provide_principal)}  # noqa: RUF012

    @get("/licenses", summary="My licences / 我的证照")
    async def my_licenses(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> list[LicensePublic]:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "share")
        found = await sharing.holder_licences(registry, acting)
        await sharing.log_agent_act(registry, acting, "代办人查看证照列表 / agent listed the licences")
        return [licenses.to_public(registry, lic, org.name) for lic, org in found]

    @post("/share-codes", status_code=201, summary="Show a one-time code (亮码) / 亮证")
    async def create_share_code(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        data: JSONBody[ShareCodeCreate],
    ) -> ShareCodeOut:
        acting = await holders.acting_for(registry, principal, data.on_behalf_of, "share")
        row, code = await sharing.create_share_code(registry, acting, data)
        await sharing.log_agent_act(
            registry,
            acting,
            f"代办人亮证 / agent made a share code: {data.purpose or ''}".rstrip(": "),
            service_code=data.service_code,
        )
        return _code_out(row, code)

    @post("/share-codes/preview", status_code=200, summary="What a code would release / 亮证预览")
    async def preview_share_code(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        data: JSONBody[ShareCodeCreate],
    ) -> dict[str, Any]:
        acting = await holders.acting_for(registry, principal, data.on_behalf_of, "share")
        return await sharing.preview(
            registry, acting, license_ids=data.license_ids, license_types=data.license_types,
            service_code=data.service_code, fields=data.fields, audience=data.audience, purpose=data.purpose or "",
        )  # fmt: skip

    @get("/share-codes", summary="My recent codes / 我的亮证码")
    async def list_share_codes(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> list[ShareCodeOut]:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "share")
        return [_code_out(row) for row in await sharing.list_share_codes(registry, acting)]

    @get("/share-codes/{code_id:str}", summary="One code: its state, who took what / 亮证码状态")
    async def share_code_status(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        code_id: FromPath[str],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> ShareCodeStatus:
        """What the 亮证 screen polls while a code is shown: ``state`` (active, used, expired, withdrawn) and
        ``accesses``, the pulls made with it (agency, licence, fields, when). An agent sees the codes they
        made; another holder's code is a 404."""
        acting = await holders.acting_for(registry, principal, on_behalf_of, "share")
        row, state, accesses = await sharing.share_code_status(registry, acting, code_id)
        return ShareCodeStatus(
            **_code_fields(row),
            created_at=wire_time(row.created_at) or "",
            state=state,
            accesses=[AccessLogOut.of(e) for e in accesses],
        )

    @delete("/share-codes/{code_id:str}", status_code=204, summary="Withdraw a code / 撤回亮证码")
    async def revoke_share_code(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        code_id: FromPath[str],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> None:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "share")
        await sharing.revoke_share_code(registry, acting, code_id)

    @get("/consents", summary="My standing consents / 授权管理")
    async def list_consents(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> list[ConsentOut]:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "all")
        return [ConsentOut.of(c, name) for c, name in await sharing.consents_with_agencies(registry, acting)]

    @post("/consents", status_code=201, summary="Grant a standing consent / 授权")
    async def grant_consent(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], data: JSONBody[ConsentCreate]
    ) -> ConsentOut:
        acting = await holders.acting_for(registry, principal, data.on_behalf_of, "all")
        consent = await sharing.grant_consent(registry, acting, data)
        await sharing.log_agent_act(
            registry,
            acting,
            f"代办人授权 {data.agency_code} / agent granted a consent: {data.purpose}",
            service_code=data.service_code,
        )
        names = await sharing.org_names(registry, {consent.agency_code})
        return ConsentOut.of(consent, names.get(consent.agency_code, consent.agency_code))

    @post("/consents/preview", status_code=200, summary="What a consent would release / 授权预览")
    async def preview_consent(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], data: JSONBody[ConsentCreate]
    ) -> dict[str, Any]:
        acting = await holders.acting_for(registry, principal, data.on_behalf_of, "all")
        return await sharing.preview(
            registry, acting, license_ids=None, license_types=data.license_types, service_code=None,
            fields=data.fields, audience=data.agency_code, purpose=data.purpose,
        )  # fmt: skip

    @delete("/consents/{consent_id:str}", status_code=204, summary="Withdraw a consent / 撤回授权")
    async def withdraw_consent(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        consent_id: FromPath[str],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> None:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "all")
        await sharing.withdraw_consent(registry, acting, consent_id)

    @get("/access-log", summary="Who accessed my licences / 使用记录")
    async def access_log(
        self,
        registry: NamedDependency[Registry],
        principal: NamedDependency[Principal],
        on_behalf_of: FromQuery[str | None] = None,
    ) -> list[AccessLogOut]:
        acting = await holders.acting_for(registry, principal, on_behalf_of, "all")
        return [AccessLogOut.of(e) for e in await sharing.access_log(registry, acting)]

    @get("/agents", summary="My agents and whom I act for / 代办人")
    async def agents(self, registry: NamedDependency[Registry], principal: NamedDependency[Principal]) -> AgentsOut:
        me = principal.require_holder()
        mine, theirs = await holders.agent_grants(registry, me)
        return AgentsOut(agents=await _grants_out(registry, mine), principals=await _grants_out(registry, theirs))

    @post("/agents", status_code=201, summary="Let someone act for me / 添加代办人")
    async def grant_agent(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], data: JSONBody[AgentCreate]
    ) -> AgentOut:
        acting = await holders.acting_for(registry, principal, None)
        grant = await holders.grant_agent(
            registry, acting, agent_id_number=data.id_number, scope=data.scope, valid_until=data.valid_until_at()
        )
        return (await _grants_out(registry, [grant]))[0]

    @delete("/agents/{grant_id:str}", status_code=204, summary="Revoke an agent / 取消代办")
    async def revoke_agent(
        self, registry: NamedDependency[Registry], principal: NamedDependency[Principal], grant_id: FromPath[str]
    ) -> None:
        await holders.revoke_agent(registry, await holders.acting_for(registry, principal, None), grant_id)
