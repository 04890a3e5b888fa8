"""The window workstation's words (/window): key → (中文, English). Merged into :data:`registry.web.i18n.STRINGS`.

``window.*`` keys are for the template only; ``js.window.*`` keys reach window.js too (and the template uses
them where both draw the same thing: states, parties, requirements, details).
"""

from __future__ import annotations

from typing import Final

STRINGS: Final[dict[str, tuple[str, str]]] = {
    "window.title": ("窗口办件", "Service window"),
    "window.lead": (
        "选择办理事项，扫描申请人的亮证码：证照自动调取并核验，申请人无需提交复印件。",
        "Pick the service item and scan the applicant's share code: licences are pulled and verified, "
        "no paper copies needed.",
    ),
    "window.noscript": (
        "本页需要启用 JavaScript 才能扫码调取。窗口系统也可直接调用接口 POST /api/v1/cases。",
        "This page needs JavaScript to pull licences. A case system can call POST /api/v1/cases instead.",
    ),
    "window.case_missing": (
        "办件 {id} 不存在，或不是本机构的办件。请从“今日办件”中选择，或开始新的办件。",
        "Case {id} does not exist or belongs to another agency. Pick one from today's cases, or start a new one.",
    ),
    "window.service_missing": (
        "事项 {code} 不存在，请重新选择办理事项。",
        "There is no service item {code}; pick the service item again.",
    ),
    # --- 1: the service item ---
    "window.pick.heading": ("第一步：办理事项", "Step 1: service item"),
    "window.pick.label": ("查找事项（名称或编码）", "Find the service item (name or code)"),
    "window.pick.hint": (
        "输入后按回车选择第一项；或按 ↓ 键、Tab 键移到列表，再按回车。",
        "Type, then press Enter for the first match; or move into the list with ↓ or Tab and press Enter.",
    ),
    "window.pick.options": ("可选事项", "Service items"),
    "window.pick.current": ("当前事项", "Current item"),
    "window.pick.change": ("更换事项", "Change item"),
    # --- 2: the scanner ---
    "window.scan.heading": ("第二步：扫码调取", "Step 2: scan and pull"),
    "window.scan.label": ("扫描申请人的亮证码", "Scan the applicant's share code"),
    "window.scan.submit": ("调取", "Pull"),
    "window.scan.hint": (
        "用扫码枪扫描申请人手机上的亮证码即可，无需点击。另一方（如父母另一方、卖方）的亮证码扫入后加入同一办件。"
        "也可输入持证人给本机构的授权编号。扫码枪请使用英文输入法。",
        "Point the scanner at the code on the applicant's phone, no click needed. Another party's code (the other "
        "parent, the seller) joins the same case. A standing consent's number works too. Keep the keyboard in "
        "English input mode for a scanner.",
    ),
    # --- 3: the materials ---
    "window.materials.heading": ("第三步：材料清单", "Step 3: materials"),
    "window.materials.empty": (
        "选择办理事项后，这里列出所需材料。",
        "Pick a service item: its materials are listed here.",
    ),
    "window.materials.list": ("所需材料", "Materials required"),
    "window.offline.heading": ("需另行提交的材料（证照库中没有）", "Papers to bring (no registry holds them)"),
    "window.pdf": ("打开并打印加注件（PDF）", "Open and print the annotated copies (PDF)"),
    "window.next": ("下一位申请人", "Next applicant"),
    "window.next_key": ("快捷键 F2", "shortcut F2"),
    # --- the side panel ---
    "window.side.heading": ("今日办件", "Today's cases"),
    "window.side.cases": ("办件（件）", "Cases"),
    "window.side.spared": ("免提交（份）", "Copies spared"),
    "window.side.rate": ("免提交率", "Paper-free rate"),
    "window.side.explain": (
        "免提交：本机构今天直接调取、申请人不必提交纸质材料的份数。",
        "Copies spared: papers this agency pulled today that applicants did not have to bring.",
    ),
    "window.side.list": ("办件列表（点击重新打开）", "Case list (open one again)"),
    "window.side.empty": ("今天还没有办件。", "No cases yet today."),
    # --- words the script uses too ---
    "js.window.party.applicant": ("申请人", "applicant"),
    "js.window.party.spouse": ("配偶", "spouse"),
    "js.window.party.legal_representative": ("法定代表人", "legal representative"),
    "js.window.party.company": ("企业", "company"),
    "js.window.party.buyer": ("买方", "buyer"),
    "js.window.party.seller": ("卖方", "seller"),
    "js.window.party.mother": ("母亲", "mother"),
    "js.window.party.father": ("父亲", "father"),
    "js.window.party.borrower": ("借款人", "borrower"),
    "js.window.req.required": ("必需", "Required"),
    "js.window.req.optional": ("可选", "Optional"),
    "js.window.req.one_of": ("任选其一", "One of a group"),
    "js.window.state.waiting": ("待调取", "Not pulled yet"),
    "js.window.state.pulled": ("已调取", "Pulled"),
    "js.window.state.fulfilled": ("已补齐", "Fulfilled"),
    "js.window.state.missing": ("缺失", "Missing"),
    "js.window.state.committed": ("已承诺", "Committed"),
    "js.window.state.not_needed": ("无需提供", "Not needed"),
    "js.window.state.optional_missing": ("未提供", "Not provided"),
    "js.window.detail.waiting": ("扫码后自动调取。", "Pulled when the code is scanned."),
    "js.window.detail.missing": (
        "申请人没有提供此证照。可请其重新亮证，或告知承诺后补交。",
        "The applicant did not provide it. Ask for a new code, or record a commitment to bring it later.",
    ),
    "js.window.detail.optional_missing": ("可选材料，未提供不影响办理。", "Optional: the case goes on without it."),
    "js.window.detail.not_needed": (
        "同组的另一份材料已提供，无需此材料。",
        "Another material of its group was provided; this one is not needed.",
    ),
    "js.window.detail.committed": ("已告知承诺：须于 {date} 前提交。", "Committed: to be brought by {date}."),
    "js.window.detail.found_invalid": (
        "找到此证照，但核验结果为“{verdict}”，未调取。请持证人向发证机关办理。",
        "A licence was found but its check says “{verdict}”; not pulled. The holder should see the issuer.",
    ),
    "js.window.identifier": ("证照标识", "Identifier"),
    "js.window.verified": ("核验有效", "verified valid"),
    "js.window.fields_limited": ("仅限部分字段", "some fields only"),
    "js.window.case_meta": ("办件编号 {id} · 受理时间 {time}", "Case {id} · opened {time}"),
    "js.window.time_limit": ("承诺时限 {days} 个工作日", "time limit {days} working days"),
    "js.window.offline.group": ("（可代替上面“任选其一”的证照）", "(instead of the “one of a group” licence above)"),
    "js.window.sum.exempted": ("免提交（份）", "Copies spared"),
    "js.window.sum.missing": ("仍缺（项）", "Still missing"),
    "js.window.commit.open": ("告知承诺…", "Commit…"),
    "js.window.commit.due": ("承诺提交日期", "To be brought by"),
    "js.window.commit.hint": ("默认 30 天，最长一年。", "30 days by default, at most a year."),
    "js.window.commit.confirm": ("确认承诺", "Record commitment"),
    "js.window.commit.cancel": ("取消", "Cancel"),
    "js.window.commit.done": (
        "已记录告知承诺：{name}，须于 {date} 前提交。",
        "Commitment recorded: {name}, by {date}.",
    ),
    "js.window.commit.bad_date": ("请填写今天至一年内的日期。", "Enter a date from today to a year ahead."),
    "js.window.search.count": ("找到 {n} 个事项", "{n} service items found"),
    "js.window.search.none": (
        "没有找到“{q}”。请换个关键词，或输入事项编码。",
        "Nothing matches “{q}”. Try other words or the item's code.",
    ),
    "js.window.list_sep": ("、", ", "),
    "js.window.today.error": (
        "今日办件暂未更新：{message}",
        "Today's cases could not be updated: {message}",
    ),
    "js.window.today.counts": ("免提交 {spared} 份 · 缺 {missing} 项", "{spared} spared · {missing} missing"),
    # the scanner's answers: a title, the API's or our words, and what to do next
    "js.window.scan.busy": ("正在调取…", "Pulling…"),
    "js.window.scan.idle_title": ("等待扫码", "Waiting for a scan"),
    "js.window.scan.idle_text": ("扫码后，调取结果显示在这里。", "The result of each scan appears here."),
    "js.window.scan.pick_first_title": ("请先选择办理事项", "Pick the service item first"),
    "js.window.scan.pick_first_next": (
        "在“办理事项”中输入名称或编码并选择，然后重新扫码（此亮证码尚未使用）。",
        "Type the item's name or code under “service item” and pick it, then scan again (the code was not used).",
    ),
    "js.window.scan.pulled_title": ("调取成功", "Pulled"),
    "js.window.scan.pulled_text": ("新调取 {n} 份：{names}。", "{n} new: {names}."),
    "js.window.scan.complete": (
        "材料已齐全，可以打印加注件。按 F2 接待下一位申请人。",
        "All materials are in: print the annotated copies. Press F2 for the next applicant.",
    ),
    "js.window.scan.still_missing": (
        "仍缺 {n} 项：请另一方亮证，或对缺失的材料告知承诺。",
        "{n} still missing: scan the other party's code, or record a commitment for what is missing.",
    ),
    "js.window.scan.nothing_title": ("未调取到证照", "Nothing pulled"),
    "js.window.scan.nothing_text": (
        "此亮证码没有提供本事项还缺的证照。请持证人亮证时选择本事项（或所需证照），刷新后重新扫码。",
        "This code released none of the licences still missing. Ask the holder to show a code for this service "
        "item (or these licences), then scan again.",
    ),
    "js.window.scan.failed_title": ("未能调取", "Could not pull"),
    "js.window.scan.licence_qr_title": ("这是证照二维码，不是亮证码", "This is a licence's QR code, not a share code"),
    "js.window.scan.licence_qr_next": (
        "请持证人在电子证照应用中打开“亮证”，出示亮证码。只需查验这张证照时，请使用“证照核验”页面。",
        "Ask the holder to open “show a code” in the licence app. To check this one licence only, use the "
        "“Verify a licence” page.",
    ),
    "js.window.scan.consent_in_case": (
        "授权编号只能用于开始新的办件。请按“下一位申请人”（F2）后再输入。",
        "A consent number can only open a new case. Press “Next applicant” (F2), then enter it.",
    ),
    "js.window.scan.empty": ("请扫描或输入亮证码。", "Scan or type a share code."),
    # what to do next, by the API's problem code
    "js.window.next.invalid_share_code": (
        "请重新扫描申请人手机上的亮证码；扫码枪请使用英文输入法。",
        "Scan the code on the applicant's phone again (scanner keyboard in English mode).",
    ),
    "js.window.next.share_code_not_found": (
        "请持证人在应用中刷新亮证码后重新扫码。",
        "Ask the holder to refresh the code in the app, then scan again.",
    ),
    "js.window.next.share_code_expired": (
        "亮证码几分钟后失效。请持证人在应用中刷新亮证码，然后重新扫码。",
        "Codes last a few minutes. Ask the holder to refresh the code in the app, then scan again.",
    ),
    "js.window.next.share_code_used": (
        "每个亮证码只能使用一次。请持证人在应用中刷新亮证码，然后重新扫码。",
        "Each code works once. Ask the holder to refresh the code in the app, then scan again.",
    ),
    "js.window.next.share_code_wrong_audience": (
        "此亮证码限定给另一机构使用。请持证人重新亮证，选择本机构或不限机构。",
        "This code is for another agency. Ask the holder to show a new code for this agency or for any agency.",
    ),
    "js.window.next.consent_not_usable": (
        "请持证人在“授权管理”中重新授权本机构办理此事项，或改为现场亮证。",
        "Ask the holder to grant this agency consent for this item again, or to show a share code instead.",
    ),
    "js.window.next.not_found": (
        "请核对授权编号，或请持证人现场亮证。",
        "Check the consent number, or ask the holder to show a share code.",
    ),
    "js.window.next.validation_failed": (
        "请检查输入后重试。",
        "Check what was entered and try again.",
    ),
    "js.window.next.csrf_failed": ("请刷新本页后重试。", "Reload this page and try again."),
    "js.window.next.default": (
        "请稍后重试；仍不成功时请联系系统管理员。",
        "Retry in a moment; if it keeps failing, call the system administrator.",
    ),
}
