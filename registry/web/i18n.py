"""The pages' words, in Chinese (the default) and English (``?lang=en``).

Every label, message and verdict a page shows comes from :data:`STRINGS`: the templates call ``t(key)``,
and each page hands its script the strings it needs in a ``<script type="application/json">`` block
(:func:`js_strings`), so no script carries words of its own. A missing key is a ``KeyError``, never a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Final, Literal, TypeGuard
from urllib.parse import urlencode

from registry.web import i18n_app, i18n_console, i18n_window

Lang = Literal["zh", "en"]
LANGS: Final[tuple[Lang, ...]] = ("zh", "en")
DEFAULT_LANG: Final[Lang] = "zh"
HTML_LANG: Final[dict[Lang, str]] = {"zh": "zh-CN", "en": "en"}

# key → (中文, English)
STRINGS: Final[dict[str, tuple[str, str]]] = {
    # --- every page ---
    "site.name": ("电子证照库", "Electronic Licence Registry"),
    "site.skip": ("跳到主要内容", "Skip to main content"),
    "lang.switch": ("English", "中文"),
    "lang.switch_label": ("Switch to English", "切换到中文"),
    "noscript": (
        "本页需要启用 JavaScript 才能核验。也可由系统调用接口 POST /api/v1/verifications。",
        "This page needs JavaScript to verify. Systems can call POST /api/v1/verifications instead.",
    ),
    # dates: {y} {m} {d} are filled in; Chinese leaves month and day unpadded, English is ISO 8601
    "date.format": ("{y}年{m}月{d}日", "{y}-{mm}-{dd}"),
    "date.none": ("—", "—"),
    # --- header, front door, login ---
    "nav.logout": ("退出登录", "Log out"),
    "index.title": ("首页", "Home"),
    "index.intro": ("请选择您要办理的事情。", "Choose what you came to do."),
    "index.verify": (
        "扫码查验一张证照是否真实有效，任何人可用。",
        "Scan a licence to see whether it is genuine; open to all.",
    ),
    "index.app": (
        "持证人查看证照、亮证、管理授权和使用记录。",
        "Holders: see licences, show a code, manage consents and the log.",
    ),
    "index.window": ("窗口工作人员调取证照、办理事项。", "Window clerks: pull licences and handle service items."),
    "index.console": ("发证部门签发、查询、管理证照。", "Issuing departments: issue, find and manage licences."),
    "login.staff.title": ("工作人员登录", "Staff login"),
    "login.staff.intro": (
        "窗口与发证部门工作人员使用本单位分配的账号登录。",
        "Window and department staff log in with the account their office gave them.",
    ),
    "login.staff.identity": ("用户名", "Username"),
    "login.staff.identity_hint": ("由本单位管理员分配", "Given by your office's administrator"),
    "login.holder.title": ("持证人登录", "Holder login"),
    "login.holder.intro": (
        "登录后查看您的电子证照，并在窗口亮证办事。",
        "Log in to see your licences and show them at a service window.",
    ),
    "login.holder.identity": ("证件号码", "ID number"),
    "login.holder.identity_hint": (
        "公民身份号码，企业填统一社会信用代码（18 位）",
        "Resident ID number, or a company's unified social credit code (18 characters)",
    ),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.expired": ("登录已过期，请重新登录。", "Your session has expired; please log in again."),
    "login.bye": ("您已安全退出。", "You have logged out."),
    "login.other.holder": ("我是持证人", "I hold a licence"),
    "login.other.staff": ("工作人员登录", "Staff login"),
    "forbidden.title": ("无权访问此页面", "Not your page"),
    "forbidden.text": ("您的账号不能使用此页面。", "Your account cannot use this page."),
    "forbidden.home": ("返回我的页面", "Back to my page"),
    # --- /verify ---
    "verify.title": ("证照核验", "Verify a licence"),
    "verify.intro": (
        "扫描证照上的二维码，立即查看是否有效。",
        "Scan the QR code on a licence to see at once whether it is valid.",
    ),
    "verify.input_label": ("扫码或粘贴二维码内容", "Scan or paste the QR code content"),
    "verify.input_hint": (
        "用扫码枪对准二维码即可，无需点击；也可粘贴内容后按回车。扫码枪请使用英文输入法。",
        "Point the scanner at the code, no click needed; or paste the content and press Enter. "
        "Keep the keyboard in English input mode for a scanner.",
    ),
    "verify.submit": ("核验", "Verify"),
    "verify.other_ways": ("其他方式", "Other ways"),
    "verify.camera": ("摄像头扫码", "Scan with camera"),
    "js.camera_stop": ("关闭摄像头", "Stop camera"),
    "verify.photo": ("上传二维码照片", "Upload a photo of the QR code"),
    "verify.photo_hint": ("支持手机拍照或扫描件", "A phone photo or a scan"),
    "verify.result_heading": ("核验结果", "Result"),
    "verify.idle": ("等待扫码", "Waiting for a scan"),
    "verify.idle_hint": (
        "扫码后，结果显示在这里；下一次扫码会替换它。",
        "The result appears here; the next scan replaces it.",
    ),
    "verify.facts_unverified": (
        "以下为二维码所载内容，未经证实：",
        "What the code claims, not confirmed:",
    ),
    "verify.field.type": ("证照名称", "Licence"),
    "verify.field.identifier": ("证照编号", "Number"),
    "verify.field.holder": ("持证人", "Holder"),
    "verify.field.issuer": ("发证机关", "Issued by"),
    "verify.field.validity": ("有效期", "Valid"),
    "verify.checks": ("核验明细", "Check details"),
    # --- strings verify.js uses (handed over as JSON) ---
    "js.busy": ("正在核验…", "Checking…"),
    "js.valid": ("有效", "Valid"),
    "js.invalid": ("无效", "Invalid"),
    "js.problem": ("未能完成核验", "Could not check"),
    "js.validity_range": ("{from} 至 {until}", "{from} to {until}"),
    "js.validity_open": ("{from} 起长期有效", "from {from}, no end date"),
    "js.mode.online": ("在线核验", "Checked online"),
    "js.mode.offline": ("离线核验", "Checked offline"),
    "js.trust_age": ("信任数据：{age}", "trust data: {age}"),
    "js.age.live": ("实时", "live"),
    "js.age.seconds": ("{n} 秒前更新", "{n} s old"),
    "js.age.minutes": ("{n} 分钟前更新", "{n} min old"),
    "js.age.hours": ("{n} 小时前更新", "{n} h old"),
    "js.age.days": ("{n} 天前更新", "{n} days old"),
    "js.age.none": ("无", "none"),
    "js.stale": ("（已过期，结果仅供参考）", " (stale: rely on it with care)"),
    "js.checked_at": ("{time} 核验", "at {time}"),
    "js.verdict.valid": ("证照真实有效", "Genuine and in force"),
    "js.verdict.revoked": ("已撤销", "Revoked"),
    "js.verdict.suspended": ("已暂扣", "Suspended"),
    "js.verdict.expired": ("已过期", "Expired"),
    "js.verdict.not_yet_valid": ("尚未生效", "Not yet valid"),
    "js.verdict.bad_signature": ("签名不符", "Signature does not match"),
    "js.verdict.unknown_issuer": ("发证机关未知", "Unknown issuer"),
    "js.verdict.key_revoked": ("签名密钥已吊销", "Signing key revoked"),
    "js.verdict.malformed": ("无法识别", "Not recognised"),
    "js.verdict.unsupported": ("不支持的格式", "Unsupported format"),
    "js.next.valid": ("可以采信。请核对持证人与本人一致。", "You may rely on it. Check that the holder is the person."),
    "js.next.revoked": (
        "发证机关已撤销此证照，不能作为有效证明。",
        "The issuer has revoked this licence; do not accept it as proof.",
    ),
    "js.next.suspended": (
        "此证照暂停使用，恢复前不能作为有效证明。",
        "This licence is suspended; do not accept it until it is reinstated.",
    ),
    "js.next.expired": (
        "已超过有效期。请持证人办理换证或续期。",
        "It is past its validity. Ask the holder to renew it.",
    ),
    "js.next.not_yet_valid": ("有效期尚未开始，请到期后再核验。", "Its validity has not started; check again later."),
    "js.next.bad_signature": (
        "内容与发证机关的签名不一致，可能被改动过，请勿采信。",
        "The content does not match the issuer's signature; it may have been altered. Do not accept it.",
    ),
    "js.next.unknown_issuer": (
        "签发者不在本库的信任名单中，请向发证机关核实。",
        "The signer is not on this registry's trust list; check with the issuing authority.",
    ),
    "js.next.key_revoked": (
        "签发所用密钥已被吊销，请持证人向发证机关重新申领。",
        "The key it was signed with has been revoked; the holder should ask the issuer for a new one.",
    ),
    "js.next.malformed": (
        "这不是电子证照的二维码，或未扫完整。请重新扫码，或上传清晰的照片。",
        "This is not a licence QR code, or the scan was incomplete. Scan again or upload a clear photo.",
    ),
    "js.next.unsupported": (
        "本系统暂不支持这种凭证格式。",
        "This registry does not support this credential format.",
    ),
    "js.status.superseded": ("已有新版本，请以新版本为准。", "A newer version exists; rely on the newer one."),
    "js.status.unknown": ("未能查到状态（撤销、暂扣）。", "Its status (revoked, suspended) could not be looked up."),
    "js.status.stale": (
        "状态数据已过期，最近的撤销或暂扣可能尚未反映。",
        "The status data is stale; a recent revocation or suspension may not show yet.",
    ),
    "js.network": ("无法连接服务器，请检查网络后重试。", "Cannot reach the server. Check the network and retry."),
    "js.http_error": (
        "服务器返回错误（{status}），请稍后重试。",
        "The server answered with an error ({status}); retry later.",
    ),
    "js.camera_title": ("无法用摄像头扫码", "Camera scanning unavailable"),
    "js.camera_unsupported": (
        "此浏览器不能用摄像头识别二维码。请改用“上传二维码照片”，或用扫码枪扫描。",
        "This browser cannot read QR codes with the camera. Use “Upload a photo of the QR code” or a scanner.",
    ),
    "js.camera_denied": (
        "无法打开摄像头（未获授权或没有摄像头）。请改用“上传二维码照片”。",
        "The camera could not be opened (no permission or no camera). Use “Upload a photo of the QR code”.",
    ),
    "js.camera_on": ("请将二维码对准摄像头。", "Hold the QR code in front of the camera."),
    "js.camera_video": ("摄像头画面", "Camera view"),
    "js.check.decode": ("解码", "Decode"),
    "js.check.format": ("格式", "Format"),
    "js.check.issuer": ("发证机关", "Issuer"),
    "js.check.signature": ("签名", "Signature"),
    "js.check.key": ("密钥", "Key"),
    "js.check.validity": ("有效期", "Validity"),
    "js.check.status": ("状态", "Status"),
    "js.check.full_credential": ("完整凭证", "Full credential"),
    "js.check.ok": ("通过", "passed"),
    "js.check.failed": ("未通过", "failed"),
    "js.check.skipped": ("未检查", "not checked"),
}


def _merge(*tables: dict[str, tuple[str, str]]) -> None:
    """Each page keeps its words in its own module; a key defined twice is a mistake, caught at import."""
    for table in tables:
        clash = STRINGS.keys() & table.keys()
        if clash:
            raise KeyError(f"UI strings defined twice: {sorted(clash)}")
        STRINGS.update(table)


_merge(i18n_app.STRINGS, i18n_window.STRINGS, i18n_console.STRINGS)


def is_lang(value: object) -> TypeGuard[Lang]:
    return value in LANGS


def resolve_lang(value: str | None) -> Lang:
    """``?lang=`` → a supported language; anything else (absent, unknown) is the default, Chinese."""
    if value is not None:
        value = value.strip().lower()
        if value.startswith("en"):
            return "en"
    return DEFAULT_LANG


def t(key: str, lang: Lang) -> str:
    """The UI string ``key`` in ``lang``; ``KeyError`` for an unknown key."""
    zh, en = STRINGS[key]
    return en if lang == "en" else zh


def js_strings(lang: Lang, prefixes: Iterable[str] = ("js.", "date.")) -> dict[str, str]:
    """The strings a page's script needs, in one language: every key under one of ``prefixes``."""
    wanted = tuple(prefixes)
    return {key: t(key, lang) for key in STRINGS if key.startswith(wanted)}


def format_date(value: date | datetime | str | None, lang: Lang) -> str:
    """``2026年11月23日`` in Chinese, ``2026-11-23`` in English; ``—`` for none.

    A string is read as the date part of an ISO 8601 / RFC 3339 timestamp: a licence's dates are calendar
    dates, shown as the registry wrote them, never shifted by a time zone.
    """
    if value is None or value == "":
        return t("date.none", lang)
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    elif isinstance(value, datetime):
        value = value.date()
    return t("date.format", lang).format(
        y=value.year, m=value.month, d=value.day, mm=f"{value.month:02d}", dd=f"{value.day:02d}"
    )


def switch_href(path: str, query: Mapping[str, str], lang: Lang) -> str:
    """The link to the same page in the other language, keeping the path and the other query parameters."""
    other: Lang = "zh" if lang == "en" else "en"
    params = {k: v for k, v in query.items() if k != "lang"}
    params["lang"] = other
    return f"{path}?{urlencode(params)}"
