"""The registry's domain errors: one framework-free tree, translated to RFC 9457 problem details in one
place (``registry.http.problems``).

Every error carries a stable machine ``code``, the HTTP ``status`` it maps to, a bilingual ``title`` and a
``detail`` that tells the caller, in words, what was wrong. Extra structured facts (which field, which
identifier) travel in ``extra`` and appear as extension members of the problem document.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RegistryError(Exception):
    """Base of every error the registry reports to a caller."""

    code: ClassVar[str] = "registry_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "请求有误 / Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)


# --- request shape -----------------------------------------------------------------------------------


class BadRequest(RegistryError):
    code = "bad_request"
    title = "请求格式有误 / Malformed request"


class InvalidJson(BadRequest):
    code = "invalid_json"
    title = "请求体不是合法的 JSON / Request body is not valid JSON"


class BodyTooLarge(RegistryError):
    code = "body_too_large"
    status = 413
    title = "请求体过大 / Request body too large"


class ValidationFailed(RegistryError):
    """The body parsed but does not fit the schema or the licence template."""

    code = "validation_failed"
    status = 422
    title = "数据校验未通过 / Validation failed"


class InvalidFields(ValidationFailed):
    code = "invalid_fields"
    title = "证照字段校验未通过 / Licence fields failed validation"


class InvalidHolderId(ValidationFailed):
    code = "invalid_holder_id"
    title = "持证人证件号码无效 / Invalid holder identifier"


class InvalidIdentifier(ValidationFailed):
    code = "invalid_identifier"
    title = "证照标识无效 / Invalid licence identifier"


class UnknownLicenseType(ValidationFailed):
    code = "unknown_license_type"
    title = "证照类型不存在 / Unknown licence type"


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    title = "缺少 Idempotency-Key 请求头 / Idempotency-Key header required"


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "Idempotency-Key 已用于另一请求 / Idempotency-Key already used for a different request"


class PayloadTooLarge(ValidationFailed):
    code = "qr_payload_too_large"
    title = "证照数据超出二维码容量 / Licence does not fit the QR code"


# --- authentication and authorisation ------------------------------------------------------------------


class NotAuthenticated(RegistryError):
    code = "not_authenticated"
    status = 401
    title = "未认证或令牌无效 / Not authenticated"


class TokenExpired(NotAuthenticated):
    code = "token_expired"
    title = "令牌已过期 / Token expired"


class SessionExpired(NotAuthenticated):
    code = "session_expired"
    title = "登录已过期，请重新登录 / The session has expired; log in again"


class CsrfFailed(RegistryError):
    """A cookie-authenticated change without this session's CSRF token, or from another origin."""

    code = "csrf_failed"
    status = 403
    title = "页面已失效，请刷新后重试 / The page is out of date; reload it and try again"


class InvalidClient(RegistryError):
    """OAuth2 ``invalid_client`` (RFC 6749 §5.2): unknown client or wrong secret."""

    code = "invalid_client"
    status = 401
    title = "客户端凭据无效 / Invalid client credentials"


class UnsupportedGrantType(BadRequest):
    code = "unsupported_grant_type"
    title = "不支持的授权类型 / Unsupported grant type"


class Forbidden(RegistryError):
    code = "forbidden"
    status = 403
    title = "无权执行此操作 / Forbidden"


class LicenseTypeNotAllowed(Forbidden):
    code = "license_type_not_allowed"
    title = "本部门无权签发此类证照 / Department may not issue this licence type"


# --- resources -----------------------------------------------------------------------------------------


class NotFound(RegistryError):
    code = "not_found"
    status = 404
    title = "资源不存在 / Not found"


class LicenseNotFound(NotFound):
    code = "license_not_found"
    title = "证照不存在 / Licence not found"


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"
    title = "机构不存在 / Organisation not found"


class Conflict(RegistryError):
    code = "conflict"
    status = 409
    title = "与现有数据冲突 / Conflict"


class OrganisationExists(Conflict):
    code = "organisation_exists"
    title = "机构已存在 / Organisation already exists"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "证照当前状态不允许此操作 / Not allowed in the licence's current status"


class NoActiveKey(Conflict):
    code = "no_active_key"
    title = "部门没有可用的签名密钥 / Department has no active signing key"


class StatusListFull(Conflict):
    code = "status_list_full"
    status = 503
    title = "状态列表已满 / Status list capacity exhausted"


class InvalidShareCode(ValidationFailed):
    code = "invalid_share_code"
    title = "亮证码格式不正确 / Malformed share code"


class ShareCodeNotFound(NotFound):
    code = "share_code_not_found"
    title = "亮证码不存在 / Unknown share code"


class ShareCodeRefused(Forbidden):
    code = "share_code_wrong_audience"
    title = "亮证码仅限指定机构 / Share code bound to another agency"


class ShareCodeGone(RegistryError):
    code = "share_code_expired"
    status = 410
    title = "亮证码已失效 / Share code expired or withdrawn"


class ShareCodeUsed(Conflict):
    code = "share_code_used"
    title = "亮证码已使用 / Share code already used"


class ConsentNotUsable(Forbidden):
    code = "consent_not_usable"
    title = "授权不可用 / Consent withdrawn, expired or out of scope"


class MethodNotAllowed(RegistryError):
    code = "method_not_allowed"
    status = 405
    title = "不支持的请求方法 / Method not allowed"


class UnsupportedMediaType(RegistryError):
    code = "unsupported_media_type"
    status = 415
    title = "不支持的内容类型 / Unsupported media type"


class RateLimited(RegistryError):
    code = "rate_limited"
    status = 429
    title = "请求过于频繁 / Too many requests"


class ServiceUnavailable(RegistryError):
    code = "service_unavailable"
    status = 503
    title = "服务暂不可用 / Service unavailable"


# --- bulk issuance ---------------------------------------------------------------------------------------


class BatchBadHeader(ValidationFailed):
    code = "batch_bad_header"
    title = "批量签发文件表头有误 / Bad header in the bulk issuance file"


class BatchFileUnreadable(ValidationFailed):
    code = "batch_file_unreadable"
    title = "无法读取批量签发文件 / The bulk issuance file cannot be read"


class BatchNotFound(NotFound):
    code = "batch_not_found"
    title = "批量签发任务不存在 / Bulk issuance job not found"


# --- the transparency log ---------------------------------------------------------------------------------


class LogRangeInvalid(BadRequest):
    """Indexes or sizes the log cannot answer for (beyond its size, reversed, or too wide a range)."""

    code = "log_range_invalid"
    title = "透明日志范围无效 / Invalid transparency log range"


class LogEntryNotFound(NotFound):
    code = "log_entry_not_found"
    title = "透明日志中无此记录 / No such transparency log entry"


# --- federation ------------------------------------------------------------------------------------------


class PeerNotFound(NotFound):
    code = "peer_not_found"
    title = "未登记的对端登记库 / Unknown peer registry"


class PeerExists(Conflict):
    code = "peer_exists"
    title = "对端登记库已登记 / Peer registry already pinned"


class PeerPinMismatch(RegistryError):
    """The peer's trust list is signed by a key other than the pinned one: refused, never used."""

    code = "peer_pin_mismatch"
    status = 502
    title = "对端信任列表密钥与固定指纹不符 / The peer's trust list is not signed by the pinned key"


class PeerUnavailable(RegistryError):
    """The peer did not answer in time, or answered something that is not what it must serve."""

    code = "peer_unavailable"
    status = 502
    title = "对端登记库不可用 / The peer registry is unavailable"


class PeerCallRefused(RegistryError):
    """A registry-to-registry call that is not signed by a pinned peer, is stale, replayed or misaddressed."""

    code = "peer_call_refused"
    status = 401
    title = "登记库间调用未通过验证 / Registry-to-registry call refused"


class PeerRefused(RegistryError):
    """The home registry refused a call (an unknown, used or expired share code…): its answer, passed on."""

    code = "peer_refused"
    status = 409
    title = "对端登记库拒绝了请求 / The peer registry refused the request"

    def __init__(self, detail: str | None = None, *, status_code: int = 409, peer_code: str = "", **extra: Any) -> None:
        super().__init__(detail, peer_code=peer_code, **extra)
        self.status = status_code if 400 <= status_code < 500 else 502  # type: ignore[misc]


# --- access tokens (issue #8) ----------------------------------------------------------------------------


class TokenRevoked(NotAuthenticated):
    """A token its holder ended (POST /api/v1/auth/revoke): presenting it again is a replay."""

    code = "token_revoked"
    title = "令牌已注销 / Token revoked"


# --- backup and restore (issue #8) ---------------------------------------------------------------------------


class BackupInvalid(ValidationFailed):
    """A file given to ``registry restore`` that is not a whole registry backup at this version's schema."""

    code = "backup_invalid"
    title = "不是可用的登记库备份 / Not a usable registry backup"


class RestoreTargetNotEmpty(Conflict):
    """``registry restore`` would replace a database that holds data; ``--force`` says to."""

    code = "restore_target_not_empty"
    title = "目标数据库已有数据 / The target database already holds data"


class DatabaseInUse(Conflict):
    """Another process (a running ``registry serve``) has the database open: restoring under it is refused."""

    code = "database_in_use"
    title = "数据库正被使用 / The database is in use"


class BackupFailed(RegistryError):
    """SQLite, pg_dump or pg_restore failed: the backup or the restore did not happen."""

    code = "backup_failed"
    status = 503
    title = "备份或恢复未完成 / Backup or restore failed"


class BackupToolMissing(BackupFailed):
    code = "backup_tool_missing"
    title = "找不到备份工具 / Backup tool not found"
