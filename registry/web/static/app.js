// /app, the citizen app: tabs; 亮证 (a one-time code as a QR, its countdown, polling until a window takes it);
// consents (preview, grant, withdraw); the access log; agents. The server renders every list on load; after a
// change the list is fetched again as the server renders it (/app/fragments/<name>), so it has one markup.
// Every word comes from the page's JSON block through RegistryPage.t (common.js).
(function () {
  "use strict";

  var P = window.RegistryPage;
  var t = P.t;
  var el = P.el;
  var DATA = JSON.parse(document.getElementById("app-data").textContent);
  var ACTING = DATA.acting; // the principal's ID number while acting for them (the API's on_behalf_of)
  var POLL_MS = 2000;
  var CHINA_MS = 8 * 3600 * 1000; // times read in 北京时间, as the server renders them

  function $(id) {
    return document.getElementById(id);
  }

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function moment(iso) {
    var ms = Date.parse(iso);
    if (isNaN(ms)) return t("date.none");
    var d = new Date(ms + CHINA_MS);
    var date = t("date.format", {
      y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(),
      mm: pad(d.getUTCMonth() + 1), dd: pad(d.getUTCDate())
    });
    return date + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  // The calendar day of a moment, in China (a consent "until 2027-11-23" ends 23:59:59 that day there).
  function day(iso) {
    var ms = Date.parse(iso);
    if (isNaN(ms)) return t("date.none");
    var d = new Date(ms + CHINA_MS);
    return P.formatDate(d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()));
  }

  function onBehalf(path) {
    if (!ACTING) return path;
    return path + (path.indexOf("?") >= 0 ? "&" : "?") + "on_behalf_of=" + encodeURIComponent(ACTING);
  }

  function withActing(body) {
    if (ACTING) body.on_behalf_of = ACTING;
    return body;
  }

  function checkedValues(name) {
    return all('input[name="' + name + '"]:checked').map(function (i) { return i.value; });
  }

  function fieldLimits(name, types) {
    var limits = {};
    var any = false;
    checkedValues(name).forEach(function (v) {
      var at = v.indexOf(":");
      var type = v.slice(0, at);
      if (types && types.indexOf(type) < 0) return;
      (limits[type] = limits[type] || []).push(v.slice(at + 1));
      any = true;
    });
    return any ? limits : null;
  }

  function say(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  // A form problem: the message under the form, and the cursor where it is to be fixed.
  function FormProblem(message, focus) {
    this.message = message;
    this.focus = focus;
  }

  function showProblem(box, err) {
    say(box, err && err.message ? err.message : t("js.network"));
    box.hidden = false;
    if (err && err.focus) err.focus.focus();
  }

  function busy(button, on) {
    button.disabled = on;
    if (on) button.setAttribute("aria-busy", "true");
    else button.removeAttribute("aria-busy");
  }

  // --- lists refreshed as the server renders them ---------------------------------------------------------

  function reloadFragment(name) {
    var box = document.querySelector('[data-fragment="' + name + '"]');
    if (!box) return Promise.resolve();
    var url = "/app/fragments/" + name + "?lang=" + P.lang + (ACTING ? "&as=" + encodeURIComponent(ACTING) : "");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(
      function (resp) {
        // A session that ended lands on the login page: load the whole page again, which asks to log in.
        if (resp.redirected && resp.url.indexOf("/login") >= 0) {
          location.reload();
          return;
        }
        if (!resp.ok) throw new P.ApiError(resp.status, null, t("js.http_error", { status: resp.status }));
        return resp.text().then(function (html) {
          box.innerHTML = html;
        });
      },
      function () {
        throw new P.ApiError(0, null, t("js.network"));
      }
    );
  }

  // A destructive act asks once more, in place: the question, "yes" and "no" (focus on "yes").
  function confirmIn(area, question, yesLabel, act) {
    var kept = Array.prototype.slice.call(area.childNodes);
    var trigger = area.querySelector("button");
    kept.forEach(function (n) { if (n.nodeType === 1) n.hidden = true; });
    var error = el("p", { class: "field__error", role: "alert", hidden: "hidden" });
    var yes = el("button", { type: "button", class: "btn btn--danger btn--small", text: yesLabel });
    var no = el("button", { type: "button", class: "btn btn--secondary btn--small", text: t("js.app.cancel") });
    var box = el("div", { class: "confirm" }, [
      el("p", { class: "confirm__question", text: question }),
      el("div", { class: "confirm__buttons" }, [yes, no]),
      error
    ]);
    area.appendChild(box);
    yes.focus();
    function restore() {
      box.remove();
      kept.forEach(function (n) { if (n.nodeType === 1) n.hidden = false; });
      if (trigger) trigger.focus();
    }
    no.addEventListener("click", restore);
    box.addEventListener("keydown", function (e) {
      if (e.key === "Escape") restore();
    });
    yes.addEventListener("click", function () {
      busy(yes, true);
      act().catch(function (err) {
        busy(yes, false);
        say(error, err.message);
      });
    });
  }

  // --- tabs ---------------------------------------------------------------------------------------------------

  var tabs = all('[role="tab"]');

  function selectTab(name, focus) {
    tabs.forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      $("panel-" + tab.getAttribute("data-tab")).hidden = !on;
      if (on && focus) tab.focus();
    });
    // The address and the language switch keep the section, so a reload or a switch lands here again.
    var url = new URL(location.href);
    url.searchParams.set("tab", name);
    history.replaceState(null, "", url.pathname + url.search);
    var sw = document.querySelector(".lang-switch");
    if (sw) {
      var other = new URL(sw.getAttribute("href"), location.href);
      other.searchParams.set("tab", name);
      sw.setAttribute("href", other.pathname + other.search);
    }
    // The log changes while the page is open (a window pulls): fetch it again each time it is opened.
    if (name === "log") reloadLog();
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function (e) {
      e.preventDefault();
      selectTab(tab.getAttribute("data-tab"), true);
    });
    tab.addEventListener("keydown", function (e) {
      var next = null;
      if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (e.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (e.key === "Home") next = tabs[0];
      else if (e.key === "End") next = tabs[tabs.length - 1];
      else if (e.key === " ") next = tab;
      if (next) {
        e.preventDefault();
        selectTab(next.getAttribute("data-tab"), true);
      }
    });
  });

  // --- what a code or consent releases (the preview) ---------------------------------------------------------

  // extra: [[label, value], …] the form knows and the preview does not echo (a consent's last day).
  function renderPreview(box, out, nothingKey, extra) {
    box.textContent = "";
    box.appendChild(el("p", { class: "preview__notice", text: P.inLang(out.notice) }));
    var meta = el("dl", { class: "facts facts--compact" });
    function row(label, value) {
      meta.appendChild(el("div", { class: "facts__row" }, [el("dt", { text: label }), el("dd", { text: value })]));
    }
    row(t("js.app.preview.agency"), out.audience ? out.audience.name : t("js.app.preview.any_agency"));
    if (out.service) row(t("js.app.preview.service"), DATA.services[out.service.code] || out.service.name);
    if (out.purpose) row(t("js.app.preview.purpose"), out.purpose);
    (extra || []).forEach(function (pair) {
      row(pair[0], pair[1]);
    });
    box.appendChild(meta);
    if (!out.licenses.length) {
      box.appendChild(el("p", { class: "alert alert--info", text: t(nothingKey) }));
      return;
    }
    out.licenses.forEach(function (lic) {
      var facts = el("dl", { class: "facts facts--compact" });
      lic.fields.forEach(function (f) {
        facts.appendChild(
          el("div", { class: "facts__row" }, [
            el("dt", { text: P.lang === "en" ? f.label_en : f.label }),
            el("dd", { text: Array.isArray(f.value) ? f.value.join(t("js.app.list_sep")) : String(f.value) })
          ])
        );
      });
      box.appendChild(
        el("article", { class: "preview__licence" }, [
          el("h3", { class: "preview__name", text: DATA.types[lic.license_type] || lic.type_name }),
          el("p", { class: "licence__id", text: lic.identifier }),
          el("p", { class: "hint hint--small", text: lic.issuer_name + " · " +
            t(lic.limited ? "js.app.preview.limited" : "js.app.preview.all_fields") }),
          facts
        ])
      );
    });
  }

  // --- 亮证 ----------------------------------------------------------------------------------------------------

  var shareRoot = $("share");
  var shareForm = $("share-form");
  var result = $("share-result");
  var shareError = $("share-error");
  var qr = $("share-qr");
  var veil = $("share-veil");
  var countdown = $("share-countdown");
  var progress = $("share-progress");
  var status = $("share-status");
  var refreshButton = $("share-refresh");
  var withdrawButton = $("share-withdraw");
  var current = null; // {out, body, deadline, done}
  var pollTimer = null;
  var tickTimer = null;
  var pendingShare = null; // the body a preview was made for

  function tell(text) {
    status.textContent = text || "";
  }

  function setView(view) {
    result.setAttribute("data-view", view);
    all("[data-view-panel]", result).forEach(function (p) {
      p.hidden = p.getAttribute("data-view-panel") !== view;
    });
    shareRoot.setAttribute("data-state", view === "idle" ? "form" : view);
  }

  function shareBody() {
    var mode = checkedValues("share-mode")[0];
    var body = {};
    var types = null;
    if (mode === "service") {
      var code = $("share-service").value;
      if (!code) throw new FormProblem(t("js.app.share.pick_service"), $("share-service"));
      body.service_code = code;
    } else {
      var boxes = all('input[name="share-licence"]:checked');
      if (!boxes.length) {
        throw new FormProblem(t("js.app.share.pick_licence"), document.querySelector('input[name="share-licence"]'));
      }
      body.license_ids = boxes.map(function (b) { return b.value; });
      types = boxes.map(function (b) { return b.getAttribute("data-type"); });
    }
    var audience = $("share-audience").value;
    if (audience) body.audience = audience;
    var purpose = $("share-purpose").value.trim();
    if (purpose) body.purpose = purpose;
    body.ttl_seconds = Number($("share-ttl").value) || 300;
    var limits = fieldLimits("share-field", types);
    if (limits) body.fields = limits;
    return withActing(body);
  }

  function describe(body) {
    var parts = [];
    if (body.service_code) {
      parts.push(t("js.app.share.what_service", { service: DATA.services[body.service_code] || body.service_code }));
    } else {
      var names = all('input[name="share-licence"]:checked').map(function (b) {
        return DATA.types[b.getAttribute("data-type")];
      });
      parts.push(t("js.app.share.what_licences", { licences: names.join(t("js.app.list_sep")) }));
    }
    if (body.audience) {
      var opt = $("share-audience").selectedOptions[0];
      parts.push(t("js.app.share.what_audience", { agency: opt ? opt.textContent : body.audience }));
    }
    if (body.fields) parts.push(t("js.app.share.what_limited"));
    return parts.join(" · ");
  }

  function stopTimers() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    if (tickTimer !== null) clearTimeout(tickTimer);
    pollTimer = tickTimer = null;
  }

  function clock(ms) {
    var s = Math.ceil(ms / 1000);
    return Math.floor(s / 60) + ":" + pad(s % 60);
  }

  function tick() {
    tickTimer = null;
    if (!current || current.done) return;
    var left = Math.max(0, current.deadline - Date.now());
    countdown.textContent = t("js.app.share.remaining", { time: clock(left) });
    progress.value = Math.round(left / 1000);
    if (left <= 0) {
      lastLook();
      return;
    }
    // The next tick when the shown second changes.
    tickTimer = setTimeout(tick, (left % 1000 || 1000) + 5);
  }

  function schedulePoll(delay) {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
    if (!current || current.done || document.hidden) return; // resumed by visibilitychange
    pollTimer = setTimeout(poll, delay);
  }

  function poll() {
    pollTimer = null;
    if (!current || current.done) return;
    var mine = current;
    P.api("GET", onBehalf("/api/v1/me/share-codes/" + encodeURIComponent(mine.out.id))).then(
      function (out) {
        if (mine !== current || mine.done) return;
        if (out.accesses && out.accesses.length) renderTaken(out.accesses);
        if (out.state === "active") {
          tell("");
          schedulePoll(POLL_MS);
        } else {
          finish(out.state, out.accesses || []);
        }
      },
      function (err) {
        if (mine !== current || mine.done) return;
        if (err.status === 404) {
          finish("withdrawn");
          return;
        }
        tell(err.message); // the network hiccuped: say so, and keep trying
        schedulePoll(POLL_MS * 2);
      }
    );
  }

  // The countdown ran out: ask once more whether a window took it in its last moment, then close it.
  function lastLook() {
    var mine = current;
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
    P.api("GET", onBehalf("/api/v1/me/share-codes/" + encodeURIComponent(mine.out.id))).then(
      function (out) {
        if (mine !== current || mine.done) return;
        if (out.accesses && out.accesses.length) renderTaken(out.accesses);
        finish(out.state === "active" ? "expired" : out.state, out.accesses || []);
      },
      function () {
        if (mine === current) finish("expired");
      }
    );
  }

  function renderTaken(accesses) {
    var list = $("share-taken-list");
    list.textContent = "";
    var agencies = [];
    accesses.forEach(function (a) {
      if (agencies.indexOf(a.actor_name) < 0) agencies.push(a.actor_name);
    });
    accesses.forEach(function (a) {
      // One agency: the title names it and the time; each line adds only what differs.
      var about = agencies.length === 1 ? [a.purpose] : [a.actor_name, moment(a.at), a.purpose];
      var fields = a.fields
        ? a.fields.map(function (f) { return (DATA.fields[a.license_type] || {})[f] || f; }).join(t("js.app.list_sep"))
        : t("js.app.fields_all");
      list.appendChild(
        el("li", { class: "taken__item" }, [
          el("p", { class: "taken__licence" }, [
            el("strong", { text: DATA.types[a.license_type] || a.license_type || "" }),
            " " + t("js.app.share.taken_fields", { fields: fields })
          ]),
          el("p", { class: "hint hint--small", text: about.filter(Boolean).join(" · ") })
        ])
      );
    });
    var last = accesses[accesses.length - 1];
    $("share-taken-title").textContent =
      agencies.length === 1
        ? t("js.app.share.taken_title", { agency: agencies[0], time: moment(last.at) })
        : t("js.app.share.taken_title_many", { n: agencies.length });
    $("share-taken").hidden = false;
  }

  function finish(state, accesses) {
    if (!current || current.done) return;
    current.done = true;
    stopTimers();
    qr.classList.add("is-dead");
    veil.hidden = false;
    withdrawButton.hidden = true;
    refreshButton.textContent = t("js.app.share.again");
    progress.value = 0;
    if (state === "used") {
      veil.textContent = t("js.app.share.veil_used");
      tell(accesses && accesses.length ? t("js.app.share.used") : t("js.app.share.used_nothing"));
      countdown.textContent = t("js.app.share.ended");
    } else if (state === "withdrawn") {
      veil.textContent = t("js.app.share.veil_withdrawn");
      tell(t("js.app.share.withdrawn"));
      countdown.textContent = t("js.app.share.ended");
    } else {
      veil.textContent = t("js.app.share.veil_expired");
      tell(t("js.app.share.expired"));
      countdown.textContent = t("js.app.share.remaining", { time: "0:00" });
    }
    result.setAttribute("data-code-state", state);
  }

  function showCode(out, body) {
    stopTimers();
    var ttl = body.ttl_seconds || 300;
    // The countdown runs on this device's clock from the moment the code arrived (its clock may be off).
    current = { out: out, body: body, deadline: Date.now() + ttl * 1000, done: false };
    qr.src = "data:image/svg+xml;base64," + btoa(out.qr_svg);
    qr.classList.remove("is-dead");
    veil.hidden = true;
    $("share-code-text").textContent = out.code;
    $("share-what").textContent = describe(body);
    progress.max = ttl;
    progress.value = ttl;
    tell("");
    $("share-taken").hidden = true;
    $("share-taken-list").textContent = "";
    withdrawButton.hidden = false;
    withdrawButton.disabled = false;
    refreshButton.textContent = t("js.app.share.refresh");
    result.setAttribute("data-code-state", "active");
    result.setAttribute("data-code-id", out.id);
    setView("code");
    tick();
    schedulePoll(POLL_MS);
    revealResult();
  }

  // The answer in view: on a phone the code is the screen; on a desk only if it is out of sight.
  function revealResult() {
    var heading = $("share-result-heading");
    heading.focus({ preventScroll: true });
    var top = result.getBoundingClientRect().top;
    if (window.matchMedia("(max-width: 959px)").matches || top < 0 || top > window.innerHeight / 2) {
      heading.scrollIntoView({ block: "start" });
    }
  }

  function createCode(body, button) {
    say(shareError, "");
    if (button) busy(button, true);
    var previous = current;
    return P.api("POST", "/api/v1/me/share-codes", body)
      .then(function (out) {
        showCode(out, body);
        // One live code at a time: the one it replaces can no longer be used.
        if (previous && !previous.done) {
          previous.done = true;
          P.api("DELETE", onBehalf("/api/v1/me/share-codes/" + encodeURIComponent(previous.out.id))).catch(
            function () {}
          );
        }
      })
      .catch(function (err) {
        if (current && result.getAttribute("data-view") === "code") tell(err.message);
        else showProblem(shareError, err);
      })
      .then(function () {
        if (button) busy(button, false);
      });
  }

  function withdrawCurrent() {
    if (!current || current.done) return Promise.resolve();
    var mine = current;
    return P.api("DELETE", onBehalf("/api/v1/me/share-codes/" + encodeURIComponent(mine.out.id))).then(function () {
      if (mine === current) finish("withdrawn");
    });
  }

  function syncMode() {
    var service = checkedValues("share-mode")[0] === "service";
    $("share-licences").hidden = service;
    $("share-service-field").hidden = !service;
  }

  all('input[name="share-mode"]').forEach(function (r) {
    r.addEventListener("change", syncMode);
  });
  syncMode();

  $("share-service").addEventListener("change", function () {
    var opt = this.selectedOptions[0];
    var needs = opt && opt.value ? opt.getAttribute("data-needs") : "";
    $("share-service-hint").textContent = needs ? t("js.app.share.needs", { licences: needs }) : t("js.app.share.service_hint");
  });

  shareForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var body;
    try {
      body = shareBody();
    } catch (err) {
      showProblem(shareError, err);
      return;
    }
    createCode(body, $("share-submit"));
  });

  shareForm.addEventListener("change", function () {
    say(shareError, "");
  });

  $("share-preview-button").addEventListener("click", function () {
    var body;
    try {
      body = shareBody();
    } catch (err) {
      showProblem(shareError, err);
      return;
    }
    say(shareError, "");
    var button = this;
    busy(button, true);
    P.api("POST", "/api/v1/me/share-codes/preview", body)
      .then(function (out) {
        pendingShare = body;
        renderPreview($("share-preview"), out, "js.app.preview.nothing");
        setView("preview");
        revealResult();
      })
      .catch(function (err) {
        showProblem(shareError, err);
      })
      .then(function () {
        busy(button, false);
      });
  });

  $("share-preview-go").addEventListener("click", function () {
    if (pendingShare) createCode(pendingShare, this);
  });

  refreshButton.addEventListener("click", function () {
    if (current) createCode(current.body, refreshButton);
  });

  withdrawButton.addEventListener("click", function () {
    busy(withdrawButton, true);
    withdrawCurrent()
      .catch(function (err) {
        tell(err.message);
      })
      .then(function () {
        busy(withdrawButton, false);
      });
  });

  $("share-edit").addEventListener("click", function () {
    // Back to the choice; a code still on screen is withdrawn, so no live code is left behind.
    withdrawCurrent().catch(function () {});
    setView("idle");
    var first = shareForm.querySelector("input, select");
    if (first) first.focus();
  });

  // A phone put away (another app, the screen off) stops asking; back in view, it asks at once.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (pollTimer !== null) clearTimeout(pollTimer);
      pollTimer = null;
    } else if (current && !current.done) {
      tick();
      schedulePoll(0);
    }
  });

  window.addEventListener("pagehide", stopTimers);

  // "出示此证" on a licence card: straight to a code for that licence.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-show-licence]");
    if (!button) return;
    var id = button.getAttribute("data-show-licence");
    $("share-mode-licences").checked = true;
    syncMode();
    all('input[name="share-licence"]').forEach(function (b) {
      b.checked = b.value === id;
    });
    selectTab("share", false);
    var body;
    try {
      body = shareBody();
    } catch (err) {
      showProblem(shareError, err);
      return;
    }
    createCode(body, button);
  });

  // --- 授权管理 ---------------------------------------------------------------------------------------------

  var consentForm = $("consent-form");
  if (consentForm) {
    var consentError = $("consent-error");
    var previewBox = $("consent-preview-box");
    var consentDone = $("consent-done");
    var pendingConsent = null;

    var consentBody = function () {
      var agency = $("consent-agency");
      if (!agency.value) throw new FormProblem(t("js.app.consent.pick_agency"), agency);
      var types = checkedValues("consent-type");
      if (!types.length) {
        throw new FormProblem(t("js.app.consent.pick_type"), document.querySelector('input[name="consent-type"]'));
      }
      var purpose = $("consent-purpose");
      if (!purpose.value.trim()) throw new FormProblem(t("js.app.consent.need_purpose"), purpose);
      var until = $("consent-until");
      if (!until.value) throw new FormProblem(t("js.app.consent.need_until"), until);
      var body = {
        agency_code: agency.value,
        license_types: types,
        purpose: purpose.value.trim(),
        valid_until: until.value
      };
      if ($("consent-service").value) body.service_code = $("consent-service").value;
      var limits = fieldLimits("consent-field", types);
      if (limits) body.fields = limits;
      return withActing(body);
    };

    var syncLimits = function () {
      var types = checkedValues("consent-type");
      all("#consent-limits .limits__type").forEach(function (fs) {
        fs.hidden = types.indexOf(fs.getAttribute("data-type")) < 0;
      });
    };

    var dropPreview = function () {
      pendingConsent = null;
      previewBox.hidden = true;
    };

    consentForm.addEventListener("change", function () {
      syncLimits();
      dropPreview();
      say(consentError, "");
    });
    consentForm.addEventListener("input", dropPreview);
    syncLimits();

    consentForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var body;
      try {
        body = consentBody();
      } catch (err) {
        showProblem(consentError, err);
        return;
      }
      say(consentError, "");
      var button = $("consent-preview-button");
      busy(button, true);
      P.api("POST", "/api/v1/me/consents/preview", body)
        .then(function (out) {
          pendingConsent = body;
          var extra = [[t("js.app.preview.until"), P.formatDate(body.valid_until)]];
          if (body.service_code) extra.unshift([t("js.app.preview.service"), DATA.services[body.service_code]]);
          renderPreview($("consent-preview"), out, "js.app.preview.nothing_yet", extra);
          previewBox.hidden = false;
          $("consent-preview-title").focus();
        })
        .catch(function (err) {
          showProblem(consentError, err);
        })
        .then(function () {
          busy(button, false);
        });
    });

    $("consent-change").addEventListener("click", function () {
      dropPreview();
      $("consent-agency").focus();
    });

    $("consent-grant").addEventListener("click", function () {
      if (!pendingConsent) return;
      var button = this;
      var body = pendingConsent;
      busy(button, true);
      P.api("POST", "/api/v1/me/consents", body)
        .then(function (out) {
          return reloadFragment("consents").then(function () {
            dropPreview();
            consentForm.reset();
            syncLimits();
            say(consentDone, t("js.app.consent.granted", { agency: out.agency_name, date: day(out.valid_until) }));
            $("consents-heading").setAttribute("tabindex", "-1");
            $("consents-heading").focus();
          });
        })
        .catch(function (err) {
          showProblem(consentError, err);
        })
        .then(function () {
          busy(button, false);
        });
    });

    $("consent-list").addEventListener("click", function (e) {
      var button = e.target.closest("[data-withdraw-consent]");
      if (!button) return;
      var id = button.getAttribute("data-withdraw-consent");
      var name = button.getAttribute("data-name");
      say(consentDone, "");
      confirmIn(
        button.closest("[data-confirm-area]"),
        t("js.app.consent.confirm", { agency: name }),
        t("js.app.consent.confirm_yes"),
        function () {
          return P.api("DELETE", onBehalf("/api/v1/me/consents/" + encodeURIComponent(id)))
            .then(function () {
              return reloadFragment("consents");
            })
            .then(function () {
              say(consentDone, t("js.app.consent.withdrawn", { agency: name }));
              $("consents-heading").setAttribute("tabindex", "-1");
              $("consents-heading").focus();
            });
        }
      );
    });
  }

  // --- 使用记录 ---------------------------------------------------------------------------------------------

  function reloadLog() {
    var button = $("log-reload");
    if (!button) return Promise.resolve();
    busy(button, true);
    return reloadFragment("log")
      .catch(function (err) {
        var list = $("log-list");
        list.textContent = "";
        list.appendChild(el("p", { class: "alert alert--error", role: "alert", text: err.message }));
      })
      .then(function () {
        busy(button, false);
      });
  }

  if ($("log-reload")) $("log-reload").addEventListener("click", reloadLog);

  // --- 代办人 -----------------------------------------------------------------------------------------------

  var agentForm = $("agent-form");
  var agentError = $("agent-error");
  var agentDone = $("agent-done");

  agentForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var idInput = $("agent-id");
    var id = idInput.value.trim().toUpperCase();
    var until = $("agent-until");
    try {
      if (!/^[0-9A-Z]{18}$/.test(id)) throw new FormProblem(t("js.app.agent.need_id"), idInput);
      if (!until.value) throw new FormProblem(t("js.app.agent.need_until"), until);
    } catch (err) {
      idInput.setAttribute("aria-invalid", err.focus === idInput ? "true" : "false");
      showProblem(agentError, err);
      return;
    }
    idInput.removeAttribute("aria-invalid");
    say(agentError, "");
    say(agentDone, "");
    var button = $("agent-add");
    busy(button, true);
    P.api("POST", "/api/v1/me/agents", {
      id_number: id,
      scope: checkedValues("agent-scope")[0] || "share",
      valid_until: until.value
    })
      .then(function (out) {
        return reloadFragment("agents").then(function () {
          idInput.value = "";
          say(agentDone, t("js.app.agent.added", { name: out.agent_name || id }));
          $("agents-mine-heading").setAttribute("tabindex", "-1");
          $("agents-mine-heading").focus();
        });
      })
      .catch(function (err) {
        showProblem(agentError, err);
      })
      .then(function () {
        busy(button, false);
      });
  });

  agentForm.addEventListener("input", function () {
    say(agentError, "");
  });

  $("agent-lists").addEventListener("click", function (e) {
    var button = e.target.closest("[data-revoke-agent]");
    if (!button) return;
    var id = button.getAttribute("data-revoke-agent");
    var name = button.getAttribute("data-name");
    say(agentDone, ""); // an earlier "done" is not about this
    confirmIn(
      button.closest("[data-confirm-area]"),
      t("js.app.agent.confirm", { name: name }),
      t("js.app.agent.confirm_yes"),
      function () {
        return P.api("DELETE", "/api/v1/me/agents/" + encodeURIComponent(id))
          .then(function () {
            return reloadFragment("agents");
          })
          .then(function () {
            say(agentDone, t("js.app.agent.revoked", { name: name }));
            $("agents-mine-heading").setAttribute("tabindex", "-1");
            $("agents-mine-heading").focus();
          });
      }
    );
  });
})();
