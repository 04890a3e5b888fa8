// /verify: a scanner types the payload and Enter; the camera (BarcodeDetector) or a photo are the other ways.
// Every word comes from the page's JSON block (#page-strings), rendered by the server in the page's language.
(function () {
  "use strict";

  // Words, their placeholders and the "中文 / English" halves of API messages: common.js, loaded first.
  var P = window.RegistryPage;
  var S = P.strings;
  var LANG = P.lang;
  var fmt = P.t;
  var inLang = P.inLang;

  function $(id) {
    return document.getElementById(id);
  }

  // Like fmt, into an element: each filled-in value is kept on one line (a date never breaks in two).
  function fill(el, key, vars) {
    el.textContent = "";
    var parts = (S[key] || "").split(/(\{\w+\})/);
    parts.forEach(function (part) {
      var m = /^\{(\w+)\}$/.exec(part);
      if (m && vars && Object.prototype.hasOwnProperty.call(vars, m[1])) {
        var span = document.createElement("span");
        span.className = "nowrap";
        span.textContent = String(vars[m[1]]);
        el.appendChild(span);
      } else if (part) {
        el.appendChild(document.createTextNode(part));
      }
    });
  }

  var form = $("scan-form");
  var input = $("payload");
  var result = $("result");
  var statusLine = $("result-status");
  var cameraButton = $("camera-button");
  var cameraText = $("camera-button-text");
  var cameraLabel = cameraText.textContent;
  var video = $("camera-video");
  var photo = $("photo");
  var panels = result.querySelectorAll("[data-panel]");
  var finePointer = window.matchMedia && window.matchMedia("(pointer: fine)").matches;

  var latest = 0; // only the newest request may fill the result: the next scan replaces the last
  var stream = null;
  var detectTimer = null;

  function refocus(always) {
    // At the counter the scanner types into the input; on a phone, do not pop the keyboard up unasked.
    if (always || finePointer) input.focus({ preventScroll: true });
  }

  function show(state, panel) {
    result.setAttribute("data-state", state);
    var shown = null;
    for (var i = 0; i < panels.length; i++) {
      panels[i].hidden = panels[i].getAttribute("data-panel") !== panel;
      if (!panels[i].hidden) shown = panels[i];
    }
    // On a small phone the answer may start below the fold; at the counter it is always in view (no-op).
    if (shown && panel !== "idle") {
      var top = shown.getBoundingClientRect().top;
      if (top > window.innerHeight - 160) shown.scrollIntoView({ block: "start", behavior: "auto" });
    }
  }

  function setBusy(busy) {
    if (busy) {
      result.setAttribute("aria-busy", "true");
      statusLine.textContent = S["js.busy"];
    } else {
      result.removeAttribute("aria-busy");
    }
  }

  function formatDate(value) {
    if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}/.test(value)) return S["date.none"];
    var y = value.slice(0, 4);
    var mm = value.slice(5, 7);
    var dd = value.slice(8, 10);
    return fmt("date.format", { y: y, m: Number(mm), d: Number(dd), mm: mm, dd: dd });
  }

  function formatTime(value) {
    var when = value ? new Date(value) : new Date();
    if (isNaN(when.getTime())) when = new Date();
    function two(n) {
      return (n < 10 ? "0" : "") + n;
    }
    return two(when.getHours()) + ":" + two(when.getMinutes()) + ":" + two(when.getSeconds());
  }

  function formatAge(freshness) {
    if (!freshness || typeof freshness.age_seconds !== "number") return S["js.age.none"];
    var s = freshness.age_seconds;
    var text;
    if (s < 5) text = S["js.age.live"];
    else if (s < 60) text = fmt("js.age.seconds", { n: Math.round(s) });
    else if (s < 3600) text = fmt("js.age.minutes", { n: Math.round(s / 60) });
    else if (s < 86400) text = fmt("js.age.hours", { n: Math.round(s / 3600) });
    else text = fmt("js.age.days", { n: Math.round(s / 86400) });
    return freshness.stale ? text + S["js.stale"] : text;
  }

  function orDash(value) {
    return value === null || value === undefined || value === "" ? S["date.none"] : String(value);
  }

  function showVerdict(r) {
    var ok = r.valid === true && r.verdict === "valid";
    var lic = r.license || {};
    $("verdict-word").textContent = S[ok ? "js.valid" : "js.invalid"];
    $("verdict-reason").textContent = S["js.verdict." + r.verdict] || inLang(r.message);
    $("verdict-next").textContent = S["js.next." + r.verdict] || "";

    // Nothing decoded (malformed): no table of dashes, just the verdict and what to do next.
    $("facts").hidden = !r.license;
    $("facts-caption").hidden = !r.license;
    var typeName = LANG === "en" ? lic.type_name_en || lic.type_name : lic.type_name;
    $("fact-type").textContent = orDash(typeName || lic.type);
    $("fact-identifier").textContent = orDash(lic.identifier);
    $("fact-holder").textContent = orDash(lic.holder_name);
    $("fact-issuer").textContent = orDash(lic.issuer_name || lic.issuer_code);
    var validity = $("fact-validity");
    if (lic.valid_from && lic.valid_until) {
      fill(validity, "js.validity_range", { from: formatDate(lic.valid_from), until: formatDate(lic.valid_until) });
    } else if (lic.valid_from) {
      fill(validity, "js.validity_open", { from: formatDate(lic.valid_from) });
    } else {
      validity.textContent = S["date.none"];
    }

    var notes = [];
    if (lic.status === "superseded") notes.push(S["js.status.superseded"]);
    if (ok && lic.status === "unknown") notes.push(S["js.status.unknown"]);
    else if (r.status_freshness && r.status_freshness.stale) notes.push(S["js.status.stale"]);
    var note = $("verdict-note");
    note.textContent = notes.join(" ");
    note.hidden = notes.length === 0;

    var list = $("checks-list");
    list.textContent = "";
    (r.checks || []).forEach(function (c) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.textContent = S["js.check." + c.name] || c.name;
      var state = document.createElement("span");
      state.textContent = S[c.ok === true ? "js.check.ok" : c.ok === false ? "js.check.failed" : "js.check.skipped"];
      state.className = c.ok === true ? "is-ok" : c.ok === false ? "is-bad" : "";
      var detail = document.createElement("span");
      detail.textContent = inLang(c.detail);
      li.appendChild(name);
      li.appendChild(state);
      li.appendChild(detail);
      list.appendChild(li);
    });

    // How it was checked, how old the trust data is, and when: a repeated scan visibly gets a new answer.
    statusLine.textContent = [
      S["js.mode." + r.mode] || S["js.mode.online"],
      fmt("js.trust_age", { age: formatAge(r.trust_freshness) }),
      fmt("js.checked_at", { time: formatTime(r.checked_at) }),
    ].join(" · ");
    show(ok ? "valid" : "invalid", "verdict");
  }

  function showMessage(title, text) {
    $("message-title").textContent = title;
    $("message-text").textContent = text;
    statusLine.textContent = "";
    show("message", "message");
  }

  async function problemText(resp) {
    try {
      var body = await resp.json();
      if (body && typeof body.detail === "string" && body.detail) return inLang(body.detail);
      if (body && typeof body.title === "string" && body.title) return inLang(body.title);
    } catch (e) {
      // not JSON: fall through to the generic words
    }
    return fmt("js.http_error", { status: resp.status });
  }

  var answered = 0;

  async function send(url, init) {
    var mine = ++latest;
    setBusy(true);
    try {
      var resp;
      try {
        resp = await fetch(url, init);
      } catch (e) {
        if (mine === latest) showMessage(S["js.problem"], S["js.network"]);
        return;
      }
      var body = null;
      var problem = null;
      if (resp.ok) {
        try {
          body = await resp.json();
        } catch (e) {
          problem = fmt("js.http_error", { status: resp.status });
        }
      } else {
        problem = await problemText(resp);
      }
      if (mine !== latest) return;
      if (problem !== null || !body || typeof body.verdict !== "string") {
        // The API's own words (they say what to do: "retry in 7 s"), else a generic "retry later".
        showMessage(S["js.problem"], problem || fmt("js.http_error", { status: resp.status }));
      } else {
        showVerdict(body);
      }
    } finally {
      if (mine === latest) {
        setBusy(false);
        result.setAttribute("data-answered", String(++answered)); // how many answers shown (for tests)
      }
    }
  }

  function verifyPayload(payload) {
    return send("/api/v1/verifications", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ payload: payload }),
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var payload = input.value;
    input.value = ""; // ready for the next scan at once
    refocus(true);
    if (payload.trim() === "") return;
    stopCamera(false);
    verifyPayload(payload);
  });

  photo.addEventListener("change", function () {
    var file = photo.files && photo.files[0];
    if (!file) return;
    var data = new FormData();
    data.append("file", file, file.name || "photo");
    photo.value = ""; // the same file may be chosen again
    stopCamera(false);
    send("/api/v1/verifications/image", { method: "POST", headers: { Accept: "application/json" }, body: data }).then(
      function () {
        refocus(false);
      }
    );
  });

  // --- the camera: BarcodeDetector where the browser has it; otherwise say so and point to the photo upload ---

  function stopCamera(backToIdle) {
    if (detectTimer !== null) {
      clearTimeout(detectTimer);
      detectTimer = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
      video.srcObject = null;
      cameraButton.setAttribute("aria-pressed", "false");
      cameraText.textContent = cameraLabel;
      if (backToIdle) {
        statusLine.textContent = "";
        show("idle", "idle");
      }
    }
  }

  async function cameraCanScan() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return false;
    }
    try {
      var formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.indexOf("qr_code") >= 0;
    } catch (e) {
      return false;
    }
  }

  async function startCamera() {
    if (!(await cameraCanScan())) {
      showMessage(S["js.camera_title"], S["js.camera_unsupported"]);
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      stream = null;
      showMessage(S["js.camera_title"], S["js.camera_denied"]);
      return;
    }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    video.srcObject = stream;
    video.setAttribute("aria-label", S["js.camera_video"]);
    $("camera-hint").textContent = S["js.camera_on"];
    cameraButton.setAttribute("aria-pressed", "true");
    cameraText.textContent = S["js.camera_stop"];
    statusLine.textContent = "";
    show("camera", "camera");
    try {
      await video.play();
    } catch (e) {
      // autoplay of a muted stream is allowed; if not, detection still runs on the frames that arrive
    }
    var tick = async function () {
      detectTimer = null;
      if (!stream) return;
      try {
        var codes = await detector.detect(video);
        if (stream && codes.length > 0 && codes[0].rawValue) {
          var text = codes[0].rawValue;
          stopCamera(false);
          refocus(false);
          verifyPayload(text);
          return;
        }
      } catch (e) {
        // a frame that is not ready yet: try the next one
      }
      if (stream) detectTimer = setTimeout(tick, 200);
    };
    tick();
  }

  cameraButton.addEventListener("click", function () {
    if (stream) {
      stopCamera(true);
      refocus(false);
    } else {
      startCamera();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && stream) {
      stopCamera(true);
      refocus(true);
      return;
    }
    // A scan that starts while nothing has focus still lands in the input.
    if (
      document.activeElement === document.body &&
      event.key.length === 1 &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.altKey
    ) {
      input.focus();
    }
  });

  window.addEventListener("pagehide", function () {
    stopCamera(false);
  });

  refocus(true);
})();
