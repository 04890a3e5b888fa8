// /window, the counter workstation: pick the service item, scan the applicant's share code, see each material
// pulled or missing, record commitments, print the annotated copies; today's cases beside.
// The server renders the first view; #window-data holds the same facts for this script, which calls the JSON API
// for every action and redraws the same markup from its answers. Every word comes from #page-strings.
(function () {
  "use strict";

  var P = window.RegistryPage;
  var t = P.t;
  var el = P.el;
  var data = JSON.parse(document.getElementById("window-data").textContent);
  var DELIVERED = { pulled: true, fulfilled: true };
  // The badge colour of each state (the same table as window_pages.BADGES).
  var BADGES = {
    waiting: "",
    pulled: "badge--ok",
    fulfilled: "badge--ok",
    missing: "badge--bad",
    committed: "badge--warn",
    not_needed: "",
    optional_missing: ""
  };

  function $(id) {
    return document.getElementById(id);
  }

  var state = { item: data.item, current: lean(data["case"]) };
  var known = {}; // service items seen, by code
  if (state.item) known[state.item.code] = state.item;

  var search = $("service-search");
  var options = $("service-options");
  var optionsNone = $("service-none");
  var optionsCount = $("service-count");
  var scanForm = $("scan-form");
  var scanInput = $("scan-input");
  var message = $("scan-message");
  var materials = $("materials");
  var pdfLink = $("pdf-link");
  var nextButton = $("next-button");
  var answered = 0;

  // --- names and dates in the page's language ---

  function lean(kase) {
    // The page never shows the credentials; they are the bulk of a case.
    if (kase) kase.materials.forEach(function (m) { m.credential = null; });
    return kase || null;
  }

  function typeName(type) {
    var names = data.types[type];
    if (!names) return type;
    return P.lang === "en" ? names.name_en : names.name;
  }

  function inLang(zh, en) {
    return P.lang === "en" ? en : zh;
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(P.strings, key);
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // The hall's clock is China time (UTC+8, no daylight saving), whatever the browser's zone.
  function china(stamp) {
    var ms = Date.parse(stamp);
    if (isNaN(ms)) return null;
    var d = new Date(ms + 8 * 3600 * 1000);
    return {
      day: d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()),
      time: pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes())
    };
  }

  function clock(stamp) {
    var c = china(stamp);
    return c ? c.time : t("date.none");
  }

  function dateTime(stamp) {
    var c = china(stamp);
    return c ? P.formatDate(c.day) + " " + c.time : t("date.none");
  }

  // --- step 1: the service item ---

  var searchSeq = 0;
  var searchTimer = null;
  var shownQuery = "";
  var searching = Promise.resolve();

  function runSearch() {
    if (searchTimer !== null) {
      clearTimeout(searchTimer);
      searchTimer = null;
    }
    var q = search.value.trim();
    var mine = ++searchSeq;
    searching = P.api("GET", "/api/v1/services" + (q ? "?q=" + encodeURIComponent(q) : "")).then(
      function (items) {
        if (mine !== searchSeq) return;
        items.forEach(function (item) { known[item.code] = item; });
        shownQuery = q;
        showOptions(items, q);
      },
      function (err) {
        if (mine !== searchSeq) return;
        options.textContent = "";
        optionsNone.textContent = err.message;
        optionsNone.hidden = false;
      }
    );
    return searching;
  }

  // Enter may come before the last keystroke's search answered: search now, then pick from that answer.
  function flushSearch() {
    if (searchTimer !== null || shownQuery !== search.value.trim()) return runSearch();
    return searching;
  }

  function showOptions(items, q) {
    options.textContent = "";
    items.forEach(function (item, i) {
      var button = el("button", { type: "button", class: "service-option", "data-code": item.code }, [
        el("span", { class: "service-option__name", text: inLang(item.name, item.name_en) }),
        el("span", { class: "service-option__meta" }, [
          el("span", { class: "mono", text: item.code }),
          " · " + inLang(item.agency_type, item.agency_type_en)
        ])
      ]);
      if (i === 0 && q) button.setAttribute("data-first", "true");
      options.appendChild(el("li", null, [button]));
    });
    optionsNone.hidden = items.length > 0;
    optionsNone.textContent = items.length ? "" : t("js.window.search.none", { q: q });
    optionsCount.textContent = t("js.window.search.count", { n: items.length });
  }

  function optionButtons() {
    return Array.prototype.slice.call(options.querySelectorAll(".service-option"));
  }

  function pick(code) {
    var got = known[code]
      ? Promise.resolve(known[code])
      : P.api("GET", "/api/v1/services/" + encodeURIComponent(code));
    return got.then(
      function (item) {
        known[item.code] = item;
        state.item = item;
        state.current = null;
        renderAll();
        setUrl();
        showMessage("idle", t("js.window.scan.idle_title"), t("js.window.scan.idle_text"), "");
        scanInput.focus();
      },
      function (err) {
        optionsNone.textContent = err.message;
        optionsNone.hidden = false;
      }
    );
  }

  function openPicker() {
    $("pick-current").hidden = true;
    $("pick-search").hidden = false;
    search.value = "";
    runSearch();
    search.focus();
  }

  function closePicker() {
    if (!state.item) return;
    $("pick-search").hidden = true;
    $("pick-current").hidden = false;
    $("pick-change").focus();
  }

  search.addEventListener("input", function () {
    if (searchTimer !== null) clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 150);
  });

  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      flushSearch().then(function () {
        var first = optionButtons()[0];
        if (first) pick(first.getAttribute("data-code"));
      });
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      flushSearch().then(function () {
        var first = optionButtons()[0];
        if (first) first.focus();
      });
    } else if (event.key === "Escape" && state.item) {
      event.preventDefault();
      closePicker();
    }
  });

  options.addEventListener("click", function (event) {
    var button = event.target.closest(".service-option");
    if (button) pick(button.getAttribute("data-code"));
  });

  options.addEventListener("keydown", function (event) {
    var buttons = optionButtons();
    var at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown" && at < buttons.length - 1) {
      event.preventDefault();
      buttons[at + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (at > 0) buttons[at - 1].focus();
      else search.focus();
    } else if (event.key === "Escape" && state.item) {
      event.preventDefault();
      closePicker();
    }
  });

  $("pick-change").addEventListener("click", openPicker);

  // --- step 2: the scanner ---

  var aboutCase = false; // the message reports on the open case: its "what next" follows the case

  function showMessage(kind, title, text, next) {
    aboutCase = false;
    message.setAttribute("data-kind", kind);
    $("scan-message-title").textContent = title;
    $("scan-message-text").textContent = text;
    $("scan-message-next").textContent = next;
  }

  function answer() {
    message.setAttribute("data-answered", String(++answered)); // how many scans were answered (for tests)
  }

  function deliveredByIndex(kase) {
    var out = {};
    if (kase) {
      kase.materials.forEach(function (m, i) {
        if (DELIVERED[m.state]) out[i] = m.identifier;
      });
    }
    return out;
  }

  function whatNext(kase) {
    return kase.missing ? t("js.window.scan.still_missing", { n: kase.missing }) : t("js.window.scan.complete");
  }

  function nextStep(code) {
    var key = "js.window.next." + code;
    return has(key) ? t(key) : t("js.window.next.default");
  }

  function scan(text) {
    if (!state.item) {
      showMessage("warn", t("js.window.scan.pick_first_title"), "", t("js.window.scan.pick_first_next"));
      answer();
      search.focus();
      return Promise.resolve();
    }
    if (/^LC1:/i.test(text)) {
      showMessage("warn", t("js.window.scan.licence_qr_title"), "", t("js.window.scan.licence_qr_next"));
      answer();
      return Promise.resolve();
    }
    var consent = /^[0-9a-f]{32}$/i.test(text);
    if (consent && state.current) {
      showMessage("warn", t("js.window.scan.failed_title"), "", t("js.window.scan.consent_in_case"));
      answer();
      return Promise.resolve();
    }
    var before = deliveredByIndex(state.current);
    var request;
    if (state.current) {
      request = P.api("POST", "/api/v1/cases/" + encodeURIComponent(state.current.case_id) + "/share-codes", {
        share_code: text
      });
    } else if (consent) {
      request = P.api("POST", "/api/v1/cases", { service_code: state.item.code, consent_id: text.toLowerCase() });
    } else {
      request = P.api("POST", "/api/v1/cases", { service_code: state.item.code, share_code: text });
    }
    showMessage("busy", t("js.window.scan.busy"), "", "");
    return request.then(
      function (kase) {
        state.current = lean(kase);
        renderAll();
        setUrl();
        refreshToday();
        var fresh = [];
        kase.materials.forEach(function (m, i) {
          if (DELIVERED[m.state] && !before[i]) fresh.push(typeName(m.license_type));
        });
        var next = whatNext(kase);
        if (fresh.length) {
          showMessage(
            "ok",
            t("js.window.scan.pulled_title"),
            t("js.window.scan.pulled_text", { n: fresh.length, names: fresh.join(t("js.window.list_sep")) }),
            next
          );
        } else {
          showMessage("warn", t("js.window.scan.nothing_title"), t("js.window.scan.nothing_text"), kase.missing ? next : "");
        }
        aboutCase = true;
      },
      function (err) {
        showMessage("error", t("js.window.scan.failed_title"), err.message, nextStep(err.code));
      }
    ).then(answer);
  }

  // Scans are handled one after another: two parents' codes scanned in quick succession both land.
  var queue = Promise.resolve();

  scanForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = scanInput.value.trim();
    scanInput.value = ""; // ready for the next scan at once
    scanInput.focus();
    if (!text) {
      showMessage("warn", t("js.window.scan.empty"), "", "");
      return;
    }
    queue = queue.then(function () { return scan(text); });
  });

  // --- step 3: the materials ---

  function matching(kase, index, m) {
    var got = kase.materials[index];
    if (got && got.license_type === m.license_type && got.party === m.party) return got;
    for (var i = 0; i < kase.materials.length; i++) {
      got = kase.materials[i];
      if (got.license_type === m.license_type && got.party === m.party) return got;
    }
    return null;
  }

  // The same rows as window_pages.material_rows.
  function rows() {
    var kase = state.current;
    var groups = {};
    if (kase) {
      kase.materials.forEach(function (m) {
        if (m.group && DELIVERED[m.state]) groups[m.group] = true;
      });
    }
    return state.item.materials.map(function (m, i) {
      var got = kase ? matching(kase, i, m) : null;
      var st = got ? got.state : "waiting";
      if (st === "missing" && m.group && groups[m.group]) st = "not_needed";
      else if (st === "missing" && m.requirement === "optional") st = "optional_missing";
      var detail;
      var verdict = "";
      var limited = "";
      if (got && DELIVERED[st]) {
        verdict = t("js.window.verified");
        detail = [
          { text: t("js.window.identifier"), cls: "material__label" },
          { text: got.identifier || "", cls: "material__id" }
        ];
        if (got.fields) limited = t("js.window.fields_limited");
      } else if (got && st === "committed") {
        detail = [{ text: t("js.window.detail.committed", { date: P.formatDate(got.due_date) }), cls: "" }];
      } else if ((st === "missing" || st === "optional_missing") && got && got.verdict && got.verdict !== "valid") {
        var word = t("js.verdict." + got.verdict);
        detail = [{ text: t("js.window.detail.found_invalid", { verdict: word }), cls: "material__bad" }];
      } else {
        detail = [{ text: t("js.window.detail." + st), cls: "" }];
      }
      return { index: i, m: m, state: st, detail: detail, verdict: verdict, limited: limited, canCommit: st === "missing" };
    });
  }

  function commitForm(i) {
    var id = String(i);
    return el("form", { class: "commit-form", id: "commit-form-" + id, "data-index": id, novalidate: "", hidden: "" }, [
      el("div", { class: "commit-form__field" }, [
        el("label", { for: "commit-due-" + id, class: "field__label", text: t("js.window.commit.due") }),
        el("input", {
          type: "date",
          id: "commit-due-" + id,
          class: "field__input commit-form__date",
          required: "",
          value: data.default_due,
          min: data.today,
          max: data.max_due,
          "aria-describedby": "commit-hint-" + id + " commit-error-" + id
        }),
        el("p", { id: "commit-hint-" + id, class: "hint hint--small", text: t("js.window.commit.hint") }),
        el("p", { id: "commit-error-" + id, class: "field__error" })
      ]),
      el("div", { class: "commit-form__buttons" }, [
        el("button", {
          type: "submit",
          class: "btn btn--primary btn--small",
          id: "commit-confirm-" + id,
          text: t("js.window.commit.confirm")
        }),
        el("button", {
          type: "button",
          class: "btn btn--secondary btn--small commit-form__cancel",
          text: t("js.window.commit.cancel")
        })
      ])
    ]);
  }

  function materialItem(r) {
    var m = r.m;
    var note = inLang(m.note, m.note_en);
    var detail = el("p", { class: "material__detail" });
    r.detail.forEach(function (d, k) {
      if (k) detail.appendChild(document.createTextNode(" "));
      detail.appendChild(el("span", { class: d.cls, text: d.text }));
    });
    var side = el("div", { class: "material__side" }, [
      el("span", { class: "badge " + BADGES[r.state] + " material__badge", text: t("js.window.state." + r.state) })
    ]);
    if (r.verdict) side.appendChild(el("span", { class: "material__verdict", text: r.verdict }));
    if (r.limited) side.appendChild(el("span", { class: "material__note", text: r.limited }));
    var li = el(
      "li",
      {
        class: "material",
        id: "material-" + r.index,
        "data-state": r.state,
        "data-type": m.license_type,
        "data-party": m.party
      },
      [
        el("div", { class: "material__body" }, [
          el("p", { class: "material__name" }, [
            el("span", { class: "material__type", text: typeName(m.license_type) }),
            " ",
            el("span", { class: "material__party", text: t("js.window.party." + m.party) })
          ]),
          el("p", { class: "material__req", text: t("js.window.req." + m.requirement) + (note ? " · " + note : "") }),
          detail
        ]),
        side
      ]
    );
    if (r.canCommit) {
      side.appendChild(
        el("button", {
          type: "button",
          class: "btn btn--secondary btn--small material__commit",
          id: "commit-open-" + r.index,
          "aria-expanded": "false",
          "aria-controls": "commit-form-" + r.index,
          "data-index": String(r.index),
          text: t("js.window.commit.open")
        })
      );
      li.appendChild(commitForm(r.index));
    }
    return li;
  }

  function renderItem() {
    var item = state.item;
    $("pick-current").hidden = !item;
    $("pick-search").hidden = !!item;
    if (!item) return;
    $("pick-current-name").textContent = inLang(item.name, item.name_en);
    $("pick-current-code").textContent = item.code;
    $("pick-current-agency").textContent = inLang(item.agency_type, item.agency_type_en);
    $("pick-current-limit").textContent = t("js.window.time_limit", { days: item.time_limit_days });
  }

  function renderMaterials() {
    var item = state.item;
    var kase = state.current;
    $("materials-empty").hidden = !!item;
    $("materials-body").hidden = !item;
    $("case-meta").textContent = kase
      ? t("js.window.case_meta", { id: kase.case_id, time: dateTime(kase.created_at) })
      : "";
    if (!item) return;
    $("sum-exempted").textContent = kase ? String(kase.exempted) : t("date.none");
    $("sum-missing").textContent = kase ? String(kase.missing) : t("date.none");
    $("sum-missing-box").classList.toggle("win-summary__item--bad", !!(kase && kase.missing));
    materials.textContent = "";
    rows().forEach(function (r) { materials.appendChild(materialItem(r)); });
    var offline = $("offline-list");
    offline.textContent = "";
    (item.offline_materials || []).forEach(function (o) {
      var li = el("li", null, [inLang(o.name, o.name_en)]);
      if (o.group) {
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", { class: "offline__note", text: t("js.window.offline.group") }));
      }
      offline.appendChild(li);
    });
    $("offline").hidden = !(item.offline_materials || []).length;
  }

  function renderActions() {
    var kase = state.current;
    if (kase) {
      pdfLink.setAttribute("href", "/api/v1/cases/" + encodeURIComponent(kase.case_id) + "/materials.pdf");
      pdfLink.setAttribute("target", "_blank");
      pdfLink.setAttribute("rel", "noopener");
      pdfLink.removeAttribute("aria-disabled");
    } else {
      pdfLink.removeAttribute("href");
      pdfLink.removeAttribute("target");
      pdfLink.setAttribute("aria-disabled", "true");
    }
    nextButton.disabled = !kase;
  }

  function renderAll() {
    renderItem();
    renderMaterials();
    renderActions();
    markCurrent();
  }

  materials.addEventListener("click", function (event) {
    var opener = event.target.closest(".material__commit");
    if (opener) {
      var form = $("commit-form-" + opener.getAttribute("data-index"));
      var open = form.hidden;
      form.hidden = !open;
      opener.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) form.querySelector("input").focus();
      return;
    }
    var cancel = event.target.closest(".commit-form__cancel");
    if (cancel) {
      var f = cancel.closest(".commit-form");
      f.hidden = true;
      var back = $("commit-open-" + f.getAttribute("data-index"));
      back.setAttribute("aria-expanded", "false");
      back.focus();
    }
  });

  materials.addEventListener("keydown", function (event) {
    var form = event.target.closest && event.target.closest(".commit-form");
    if (form && event.key === "Escape") {
      event.preventDefault();
      form.querySelector(".commit-form__cancel").click();
    }
  });

  materials.addEventListener("submit", function (event) {
    var form = event.target.closest(".commit-form");
    if (!form || !state.current) return;
    event.preventDefault();
    var index = Number(form.getAttribute("data-index"));
    var m = state.item.materials[index];
    var input = form.querySelector("input");
    var error = form.querySelector(".field__error");
    var due = input.value;
    // ISO dates compare as strings.
    if (!/^\d{4}-\d{2}-\d{2}$/.test(due) || due < data.today || due > data.max_due) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = t("js.window.commit.bad_date");
      input.focus();
      return;
    }
    var path = "/api/v1/cases/" + encodeURIComponent(state.current.case_id) + "/commitments";
    P.api("POST", path, { license_type: m.license_type, party: m.party, due_date: due }).then(
      function (kase) {
        state.current = lean(kase);
        renderMaterials();
        $("materials-status").textContent = t("js.window.commit.done", {
          name: typeName(m.license_type),
          date: P.formatDate(due)
        });
        refreshToday();
        if (aboutCase) $("scan-message-next").textContent = whatNext(kase);
        // On to the next missing material, else to printing.
        var next = materials.querySelector(".material__commit");
        (next || pdfLink).focus();
      },
      function (err) {
        input.setAttribute("aria-invalid", "true");
        error.textContent = err.message + " " + nextStep(err.code);
        input.focus();
      }
    );
  });

  // --- the next applicant: one button, or F2 from anywhere ---

  function nextApplicant() {
    if (!state.current) return;
    state.current = null;
    renderAll();
    setUrl();
    $("materials-status").textContent = "";
    showMessage("idle", t("js.window.scan.idle_title"), t("js.window.scan.idle_text"), "");
    scanInput.focus();
  }

  nextButton.addEventListener("click", nextApplicant);

  document.addEventListener("keydown", function (event) {
    if (event.key === "F2") {
      event.preventDefault();
      nextApplicant();
      return;
    }
    // A scan that starts while nothing has focus still lands in the right input.
    if (
      document.activeElement === document.body &&
      event.key.length === 1 &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.altKey
    ) {
      (state.item ? scanInput : search).focus();
    }
  });

  // --- the address keeps the case (a reload shows it again), and so does the language switch ---

  function withState(url) {
    url.searchParams.delete("case");
    url.searchParams.delete("service");
    if (state.current) url.searchParams.set("case", state.current.case_id);
    else if (state.item) url.searchParams.set("service", state.item.code);
    return url.pathname + url.search;
  }

  function setUrl() {
    history.replaceState(null, "", withState(new URL(location.href)));
    var toggle = document.querySelector(".lang-switch");
    if (toggle) toggle.setAttribute("href", withState(new URL(toggle.getAttribute("href"), location.href)));
    var notice = $("page-notice");
    if (notice) notice.hidden = true;
  }

  // --- today's cases ---

  function markCurrent() {
    var id = state.current ? state.current.case_id : null;
    Array.prototype.forEach.call(document.querySelectorAll(".today-list__link"), function (a) {
      if (a.getAttribute("data-case") === id) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  function refreshToday() {
    var day = encodeURIComponent(data.today);
    return Promise.all([
      P.api("GET", "/api/v1/stats?period=day&start=" + day + "&end=" + day),
      P.api("GET", "/api/v1/cases?date=" + day)
    ]).then(
      function (answers) {
        var mine = answers[0].by_agency.filter(function (a) { return a.agency_code === data.agency; })[0];
        $("stat-cases").textContent = String(mine ? mine.cases : 0);
        $("stat-spared").textContent = String(mine ? mine.spared : 0);
        var rate = mine ? mine.free_of_paper_rate : null;
        $("stat-rate").textContent = rate === null || rate === undefined ? t("date.none") : Math.round(rate * 100) + "%";
        var list = $("today-list");
        list.textContent = "";
        answers[1].forEach(function (c) {
          var who = c.applicant_name ? c.applicant_name + " · " : "";
          list.appendChild(
            el("li", null, [
              el("a", { class: "today-list__link", href: "/window?case=" + encodeURIComponent(c.case_id), "data-case": c.case_id }, [
                el("span", { class: "today-list__time", text: clock(c.created_at) }),
                el("span", { class: "today-list__name", text: inLang(c.service_name, c.service_name_en) }),
                el("span", {
                  class: "today-list__who",
                  text: who + t("js.window.today.counts", { spared: c.exempted, missing: c.missing })
                })
              ])
            ])
          );
        });
        $("today-empty").hidden = answers[1].length > 0;
        $("today-error").textContent = "";
        markCurrent();
      },
      function (err) {
        // The panel keeps its last figures; the next action tries again.
        $("today-error").textContent = t("js.window.today.error", { message: err.message });
      }
    );
  }

  // --- start: focus where the clerk's next key belongs ---

  renderActions();
  markCurrent();
  (state.item ? scanInput : search).focus({ preventScroll: true });
})();
