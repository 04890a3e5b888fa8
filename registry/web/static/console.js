// /console: the issuing department's page. The server renders each tab; this script validates the generated
// forms as the officer types, previews and issues a licence (one Idempotency-Key per form, so a double click
// or a retry never issues twice), runs the lifecycle dialogs, and uploads a bulk CSV and follows its progress.
// Every word comes from the page's JSON block through RegistryPage.t; the script carries none of its own.
(function () {
  "use strict";

  var P = window.RegistryPage;
  var t = P.t;
  var el = P.el;
  var LONG_TERM = "\u957f\u671f"; // the value a date_or_long field takes for "no end date", in any language
  var MAX_BATCH_BYTES = 20 * 1024 * 1024;

  function $(id) {
    return document.getElementById(id);
  }

  // --- checking one value ---------------------------------------------------------------------------------

  var RESIDENT_CHECK = "10X98765432";
  var USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  var patterns = {};

  function realDate(y, m, d) {
    var when = new Date(Date.UTC(y, m - 1, d));
    return when.getUTCFullYear() === y && when.getUTCMonth() === m - 1 && when.getUTCDate() === d;
  }

  function todayIso() {
    return new Date().toISOString().slice(0, 10); // the registry counts days in UTC
  }

  // GB 11643: 17 digits, a MOD 11-2 check character, a real birth date from 1900 to today.
  function residentIdProblem(v) {
    if (!/^[1-9][0-9]{16}[0-9X]$/.test(v)) return t("js.console.v.resident_id");
    var y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14);
    var born = v.slice(6, 10) + "-" + v.slice(10, 12) + "-" + v.slice(12, 14);
    if (!realDate(y, m, d) || y < 1900 || born > todayIso()) return t("js.console.v.resident_id_birth");
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += +v.charAt(i) * (Math.pow(2, 17 - i) % 11);
    return RESIDENT_CHECK.charAt(sum % 11) === v.charAt(17) ? "" : t("js.console.v.check");
  }

  // GB 32100: 18 characters of its alphabet, a MOD 31 check character.
  function usccProblem(v) {
    if (v.length !== 18) return t("js.console.v.uscc");
    var sum = 0;
    for (var i = 0; i < 18; i++) {
      if (USCC_ALPHABET.indexOf(v.charAt(i)) < 0) return t("js.console.v.uscc");
      if (i < 17) sum += USCC_ALPHABET.indexOf(v.charAt(i)) * USCC_WEIGHTS[i];
    }
    return USCC_ALPHABET.charAt((31 - (sum % 31)) % 31) === v.charAt(17) ? "" : t("js.console.v.check");
  }

  function datePattern(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    return m && realDate(+m[1], +m[2], +m[3]);
  }

  function dateTimeOk(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})$/.exec(v);
    return !!m && realDate(+m[1], +m[2], +m[3]) && +m[4] < 24 && +m[5] < 60;
  }

  // The template's pattern is a Python regular expression matched in full; the shipped ones are valid in
  // JavaScript too. One that is not is left to the server (which checks everything again anyway).
  function patternOf(source) {
    if (!Object.prototype.hasOwnProperty.call(patterns, source)) {
      try {
        patterns[source] = new RegExp("^(?:" + source + ")$", "u");
      } catch (e) {
        patterns[source] = null;
      }
    }
    return patterns[source];
  }

  // What the registry will receive for this input (identifiers in capitals, a date and time with its "T").
  function valueOf(input) {
    var v = input.value.replace(/\r\n/g, "\n").trim();
    var kind = input.getAttribute("data-kind");
    if (kind === "resident_id" || kind === "uscc" || kind === "passport") v = v.toUpperCase();
    if (kind === "datetime") v = v.replace(" ", "T");
    return v;
  }

  function holderValue(form, which) {
    var source = form.querySelector('[data-holder="' + which + '"]');
    if (!source) return null;
    return valueOf(source) || source.getAttribute("data-default") || "";
  }

  function problemOf(input) {
    if (input.type === "checkbox") return input.required && !input.checked ? t("js.console.v.confirm") : "";
    var v = valueOf(input);
    var kind = input.getAttribute("data-kind") || "string";
    if (v === "") return input.required ? t("js.console.v.required") : "";
    var example = input.getAttribute("data-example") || "";
    var limit = input.getAttribute("data-max-length");
    if (limit && Array.from(v).length > +limit) return t("js.console.v.too_long", { max: limit });
    if (kind === "string" || kind === "text") {
      var source = input.getAttribute("data-pattern");
      var re = source ? patternOf(source) : null;
      if (re && !re.test(v)) return t("js.console.v.pattern", { example: example });
    } else if (kind === "date") {
      if (!datePattern(v)) return t("js.console.v.date");
    } else if (kind === "datetime") {
      if (!dateTimeOk(v)) return t("js.console.v.datetime");
    } else if (kind === "date_or_long") {
      if (v !== LONG_TERM && !datePattern(v)) return t("js.console.v.date_or_long", { long: LONG_TERM });
    } else if (kind === "decimal") {
      if (!/^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$/.test(v)) return t("js.console.v.decimal", { example: example });
    } else if (kind === "integer") {
      if (!/^[+-]?[0-9]{1,15}$/.test(v)) return t("js.console.v.integer");
      var n = parseInt(v, 10);
      var min = input.getAttribute("data-min"), max = input.getAttribute("data-max");
      if ((min !== null && n < +min) || (max !== null && n > +max)) {
        return t("js.console.v.range", { min: min === null ? "" : min, max: max === null ? "" : max });
      }
    } else if (kind === "resident_id") {
      var rid = residentIdProblem(v);
      if (rid) return rid;
    } else if (kind === "uscc") {
      var code = usccProblem(v);
      if (code) return code;
    } else if (kind === "passport") {
      if (!/^[A-Z0-9]{5,17}$/.test(v)) return t("js.console.v.passport");
    }
    var mirror = input.getAttribute("data-mirror");
    if (mirror && input.form) {
      var wanted = holderValue(input.form, mirror);
      if (wanted && (mirror === "id_number" ? v.toUpperCase() !== wanted.toUpperCase() : v !== wanted)) {
        return t(mirror === "id_number" ? "js.console.v.mirror_id" : "js.console.v.mirror_name");
      }
    }
    return "";
  }

  function show(input, message) {
    var box = $(input.id + "-error");
    if (box) box.textContent = message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function check(input) {
    var message = problemOf(input);
    show(input, message);
    if (input.form) tidySummary(input.form);
    return message;
  }

  // A summary shown on submit drops what has been fixed since, and goes once nothing is left.
  function tidySummary(form) {
    var box = form.querySelector(".error-summary");
    if (!box || box.hidden) return;
    var left = 0;
    box.querySelectorAll("li").forEach(function (item) {
      var input = $(item.getAttribute("data-for"));
      if (input && input.getAttribute("aria-invalid") === "true") left += 1;
      else item.remove();
    });
    if (left === 0) box.hidden = true;
    else box.querySelector("[data-role=count]").textContent = t("js.console.errors_title", { n: left });
  }

  function checkable(form) {
    return Array.prototype.filter.call(form.querySelectorAll("[data-path]"), function (input) {
      return input.type !== "hidden" && input.type !== "radio";
    });
  }

  // Every problem of the form, in the order of its inputs; dates also checked against each other.
  function validate(form) {
    var found = [];
    checkable(form).forEach(function (input) {
      var message = check(input);
      if (message) found.push({ input: input, message: message });
    });
    var from = form.querySelector('[data-path="valid_from"]');
    var until = form.querySelector('[data-path="valid_until"]');
    if (until && valueOf(until) && !until.getAttribute("aria-invalid")) {
      var start = (from && valueOf(from)) || todayIso();
      if (datePattern(start) && valueOf(until) <= start) {
        show(until, t("js.console.v.end_before_start"));
        found.push({ input: until, message: t("js.console.v.end_before_start") });
      }
    }
    return found;
  }

  function labelOf(input) {
    return input.getAttribute("data-label") || input.name;
  }

  // A list of what to fix, each a link that moves to its input (GOV.UK's error summary).
  function summarise(box, problems, lead) {
    box.textContent = "";
    if (lead) box.appendChild(el("p", { text: lead }));
    box.appendChild(el("p", { "data-role": "count", text: t("js.console.errors_title", { n: problems.length }) }));
    var list = el("ul", { class: "error-summary__list" });
    problems.forEach(function (p) {
      var link = el("a", { href: "#" + p.input.id, text: t("js.console.error_item", { label: labelOf(p.input), message: p.message }) });
      link.addEventListener("click", function (event) {
        event.preventDefault();
        p.input.focus();
      });
      list.appendChild(el("li", { "data-for": p.input.id }, [link]));
    });
    box.appendChild(list);
    box.hidden = false;
    box.focus();
  }

  // The registry's 422 problems name fields as it knows them: "holder.id_number", "valid_until", or a
  // template field's own name.
  function pathOf(field) {
    if (!field) return "";
    if (/^(holder\.|holder_name$|valid_from$|valid_until$|reason$|kind$)/.test(field)) return field;
    return "fields." + field.replace(/^fields\./, "");
  }

  function serverProblems(form, err) {
    var items = Array.isArray(err.problem.errors) ? err.problem.errors.slice() : [];
    if (err.problem.field) items.push({ field: err.problem.field, message: err.problem.detail });
    var found = [];
    items.forEach(function (item) {
      var input = form.querySelector('[data-path="' + pathOf(String(item.field || "")) + '"]');
      if (!input || input.type === "hidden") return;
      var message = P.inLang(String(item.message || err.message));
      show(input, message);
      input.setAttribute("data-touched", "1");
      found.push({ input: input, message: message });
    });
    return found;
  }

  // Validation as you type: an input is checked once it has been left (or submitted), then at every key.
  function watch(form) {
    form.addEventListener("input", function (event) {
      var input = event.target;
      if (!input.hasAttribute || !input.hasAttribute("data-path")) return;
      if (input.hasAttribute("data-mirror")) input.setAttribute("data-synced", "0");
      if (input.hasAttribute("data-holder")) mirror(form, input);
      if (input.getAttribute("data-touched") === "1") check(input);
    });
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input.hasAttribute && input.hasAttribute("data-path") && input.type !== "radio") {
        input.setAttribute("data-touched", "1");
        check(input);
      }
    });
    form.addEventListener("focusout", function (event) {
      var input = event.target;
      if (!input.hasAttribute || !input.hasAttribute("data-path") || input.type === "checkbox") return;
      if (input.value.trim() !== "" || input.getAttribute("data-touched") === "1") {
        input.setAttribute("data-touched", "1");
        check(input);
      }
    });
  }

  // Fields that must equal the holder's ID number or name follow the holder's inputs until edited by hand.
  function mirror(form, source) {
    var which = source.getAttribute("data-holder");
    var previous = source.getAttribute("data-previous") || source.getAttribute("data-default") || "";
    var now = valueOf(source) || source.getAttribute("data-default") || "";
    form.querySelectorAll('[data-mirror="' + which + '"]').forEach(function (target) {
      var current = valueOf(target);
      if (current === "" || current === previous || target.getAttribute("data-synced") === "1") {
        target.value = now;
        target.setAttribute("data-synced", "1");
      }
      if (target.getAttribute("data-touched") === "1") check(target);
    });
    source.setAttribute("data-previous", now);
  }

  // --- issuing ------------------------------------------------------------------------------------------

  function setupIssue() {
    var form = $("issue-form");
    if (!form) return;
    var steps = { form: $("issue-step-form"), preview: $("issue-step-preview"), result: $("issue-step-result") };
    var summary = $("issue-errors");
    var confirmButton = $("issue-confirm");
    var problemBox = $("issue-problem");
    var busyLine = $("issue-busy");
    var idType = $("holder-id-type");
    var idNumber = $("holder-id-number");
    var years = +(form.getAttribute("data-years") || 0);
    var key = P.newKey(); // one per licence being filled in: a retry of the same licence reuses it
    var sending = false;

    watch(form);

    function step(name) {
      Object.keys(steps).forEach(function (k) {
        steps[k].hidden = k !== name;
      });
    }

    if (idType && idType.tagName === "SELECT") {
      idType.addEventListener("change", function () {
        var option = idType.options[idType.selectedIndex];
        idNumber.setAttribute("data-kind", idType.value);
        $("holder-id-number-hint").textContent = option.getAttribute("data-hint") || "";
        if (idNumber.value.trim() !== "") {
          idNumber.setAttribute("data-touched", "1");
          check(idNumber);
        }
      });
    }

    function body() {
      var out = { type: form.getAttribute("data-type"), holder: {}, fields: {} };
      form.querySelectorAll("[data-path]").forEach(function (input) {
        var path = input.getAttribute("data-path");
        var v = valueOf(input);
        if (path.indexOf("holder.") === 0) {
          out.holder[path.slice(7)] = v;
        } else if (path.indexOf("fields.") === 0) {
          if (v === "") return; // an optional field left empty is not sent
          out.fields[path.slice(7)] = input.getAttribute("data-kind") === "integer" ? parseInt(v, 10) : v;
        } else if (v !== "") {
          out[path] = v;
        }
      });
      return out;
    }

    function shown(input) {
      if (input.tagName === "SELECT") return input.options[input.selectedIndex].text;
      return input.value.trim();
    }

    function validityText(from, until) {
      var start = P.formatDate(from);
      if (until) return t("js.console.validity_range", { start: start, end: P.formatDate(until) });
      return t("js.console.validity_open", { start: start });
    }

    function addYears(iso, n) {
      var y = +iso.slice(0, 4) + n;
      var rest = iso.slice(4);
      return rest === "-02-29" && !realDate(y, 2, 29) ? y + "-02-28" : y + rest;
    }

    function preview() {
      var list = $("preview-list");
      list.textContent = "";
      function row(label, value, mono) {
        list.appendChild(
          el("div", { class: "facts__row" }, [el("dt", { text: label }), el("dd", { text: value, class: mono ? "facts__mono" : null })])
        );
      }
      row(form.getAttribute("data-type-label"), form.getAttribute("data-type-name"));
      form.querySelectorAll("[data-path]").forEach(function (input) {
        var path = input.getAttribute("data-path");
        if (path === "valid_from" || path === "valid_until") return;
        if (path === "holder.id_type" && input.type === "hidden") {
          row(labelOf(input), input.getAttribute("data-shown") || input.value);
          return;
        }
        var v = shown(input);
        if (v !== "") row(labelOf(input), v, /id_number|resident_id|uscc/.test(path + input.getAttribute("data-kind")));
      });
      var from = valueOf($("valid-from")) || todayIso();
      var until = valueOf($("valid-until")) || (years ? addYears(from, years) : "");
      row(form.getAttribute("data-validity-label"), validityText(from, until));
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var problems = validate(form);
      checkable(form).forEach(function (input) {
        input.setAttribute("data-touched", "1");
      });
      if (problems.length) {
        summarise(summary, problems);
        return;
      }
      summary.hidden = true;
      problemBox.hidden = true;
      busyLine.textContent = "";
      preview();
      step("preview");
      steps.preview.focus();
    });

    $("issue-back").addEventListener("click", function () {
      step("form");
      $("issue-preview-button").focus();
    });

    confirmButton.addEventListener("click", function () {
      if (sending) return; // a second click while the first is on its way
      sending = true;
      confirmButton.disabled = true;
      problemBox.hidden = true;
      busyLine.textContent = t("js.console.issuing");
      P.api("POST", "/api/v1/licenses", body(), { headers: { "Idempotency-Key": key } })
        .then(function (licence) {
          key = P.newKey();
          showResult(licence);
        })
        .catch(function (err) {
          busyLine.textContent = "";
          var found = err.status === 422 ? serverProblems(form, err) : [];
          if (found.length) {
            step("form");
            summarise(summary, found, t("js.console.server_fix"));
          } else {
            // Nothing was issued, or the same key makes a retry safe: say why, and stay to retry.
            problemBox.textContent = err.message;
            problemBox.hidden = false;
            confirmButton.focus();
          }
        })
        .then(function () {
          sending = false;
          confirmButton.disabled = false;
        });
    });

    function showResult(licence) {
      var base = "/api/v1/licenses/" + encodeURIComponent(licence.identifier);
      $("result-identifier").textContent = licence.identifier;
      $("result-holder").textContent = licence.holder.name;
      $("result-id-number").textContent = licence.holder.id_number;
      $("result-validity").textContent = validityText(licence.valid_from, licence.valid_until);
      $("result-qr").setAttribute("src", base + "/qr.svg");
      $("result-pdf").setAttribute("href", base + "/pdf");
      $("result-detail").setAttribute("href", "/console?tab=find&id=" + encodeURIComponent(licence.identifier));
      busyLine.textContent = "";
      step("result");
      steps.result.focus();
    }

    $("issue-next").addEventListener("click", function () {
      form.reset();
      checkable(form).forEach(function (input) {
        show(input, "");
        input.removeAttribute("data-touched");
        input.removeAttribute("data-synced");
        input.removeAttribute("data-previous");
      });
      summary.hidden = true;
      $("result-qr").removeAttribute("src");
      step("form");
      idNumber.focus();
    });
  }

  // --- a licence's actions --------------------------------------------------------------------------------

  function setupDetail() {
    var detail = $("detail");
    if (!detail) return;
    var identifier = detail.getAttribute("data-identifier");
    var q = detail.getAttribute("data-q") || "";
    var opener = null;

    document.querySelectorAll("[data-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = $(button.getAttribute("data-open"));
        opener = button;
        dialog.showModal();
        // Straight to the reason, the one thing every action needs; an amendment starts at what changes.
        var first = dialog.querySelector("[data-path]:not([type=hidden])");
        var reason = dialog.querySelector('[data-path="reason"]');
        (dialog.getAttribute("id") === "dlg-amend" ? first : reason).focus();
      });
    });

    document.querySelectorAll("dialog").forEach(function (dialog) {
      var form = dialog.querySelector("form");
      var problemBox = form.querySelector('[data-role="problem"]');
      var busyLine = form.querySelector('[data-role="busy"]');
      var submit = form.querySelector('button[type="submit"]');
      var action = form.getAttribute("data-action");
      var sending = false;
      watch(form);

      dialog.querySelectorAll("[data-close]").forEach(function (button) {
        button.addEventListener("click", function () {
          dialog.close();
        });
      });
      dialog.addEventListener("close", function () {
        if (opener) opener.focus();
      });

      function changedFields() {
        var out = {};
        form.querySelectorAll('[data-path^="fields."]').forEach(function (input) {
          var before = input.tagName === "SELECT" ? selectedDefault(input) : input.defaultValue.trim();
          if (input.value.trim() === before) return;
          var v = valueOf(input);
          out[input.getAttribute("data-path").slice(7)] = input.getAttribute("data-kind") === "integer" && v !== "" ? parseInt(v, 10) : v;
        });
        return out;
      }

      function payload() {
        var out = { reason: valueOf(form.querySelector('[data-path="reason"]')) };
        if (action === "revoke") out.kind = form.querySelector('input[name="kind"]:checked').value;
        ["valid_from", "valid_until", "holder_name"].forEach(function (path) {
          var input = form.querySelector('[data-path="' + path + '"]');
          if (input && valueOf(input) !== "") out[path] = valueOf(input);
        });
        if (action === "amend") out.fields = changedFields();
        return out;
      }

      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (sending) return;
        problemBox.hidden = true;
        var problems = validate(form);
        if (problems.length) {
          problems[0].input.focus();
          return;
        }
        var body = payload();
        if (action === "amend" && !Object.keys(body.fields).length && !body.holder_name && !body.valid_until) {
          problemBox.textContent = t("js.console.nothing_changed");
          problemBox.hidden = false;
          return;
        }
        sending = true;
        submit.disabled = true;
        busyLine.textContent = t("js.console.working");
        P.api("POST", "/api/v1/licenses/" + encodeURIComponent(identifier) + "/" + action, body)
          .then(function (licence) {
            // The page shows the licence as it is now: the new version after a renewal or an amendment.
            var target = action === "renew" || action === "amend" ? licence.identifier : identifier;
            var done = action === "revoke" ? body.kind : action;
            var query = "tab=find&id=" + encodeURIComponent(target) + "&done=" + done;
            if (q) query += "&q=" + encodeURIComponent(q);
            location.assign("/console?" + query);
          })
          .catch(function (err) {
            sending = false;
            submit.disabled = false;
            busyLine.textContent = "";
            var found = err.status === 422 ? serverProblems(form, err) : [];
            problemBox.textContent = err.message;
            problemBox.hidden = false;
            (found.length ? found[0].input : submit).focus();
          });
      });
    });

    var notice = $("done-notice");
    if (notice) notice.focus();
  }

  // Times as the server shows them on the page: the officers' wall clock, China time (UTC+8, no DST).
  function chinaTime(value) {
    var when = new Date(Date.parse(value) + 8 * 3600 * 1000);
    if (isNaN(when.getTime())) return t("date.none");
    function two(n) {
      return (n < 10 ? "0" : "") + n;
    }
    var y = when.getUTCFullYear(), m = when.getUTCMonth() + 1, d = when.getUTCDate();
    var day = t("date.format", { y: y, m: m, d: d, mm: two(m), dd: two(d) });
    return day + " " + two(when.getUTCHours()) + ":" + two(when.getUTCMinutes());
  }

  function selectedDefault(select) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].defaultSelected) return select.options[i].value;
    }
    return "";
  }

  // --- bulk issuance --------------------------------------------------------------------------------------

  function setupBatch() {
    var form = $("batch-form");
    if (!form) return;
    var typeSelect = $("batch-type");
    var fileInput = $("batch-file");
    var templateLink = $("batch-template");
    var problemBox = $("batch-problem");
    var submit = $("batch-submit");
    var panel = $("batch-progress");
    var bar = $("batch-bar");
    var report = $("batch-report");
    var running = false;

    typeSelect.addEventListener("change", function () {
      var option = typeSelect.options[typeSelect.selectedIndex];
      templateLink.setAttribute("href", "/console/batch-template/" + encodeURIComponent(typeSelect.value) + ".csv");
      templateLink.setAttribute("download", typeSelect.value + ".csv");
      templateLink.textContent = (templateLink.getAttribute("data-label") || "").replace("{type}", option.text);
    });

    var chosen = $("batch-file-name");
    function showChosen() {
      var file = fileInput.files && fileInput.files[0];
      chosen.textContent = file ? file.name : chosen.getAttribute("data-none");
    }
    fileInput.addEventListener("change", function () {
      $("batch-file-error").textContent = "";
      fileInput.removeAttribute("aria-invalid");
      showChosen();
    });

    function fail(message, input) {
      if (input) {
        $("batch-file-error").textContent = message;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } else {
        problemBox.textContent = message;
        problemBox.hidden = false;
        problemBox.focus();
      }
    }

    function render(job) {
      panel.setAttribute("data-state", job.state);
      $("batch-filename").textContent = job.filename;
      var total = typeof job.total === "number" ? job.total : null;
      if (total === null) {
        bar.removeAttribute("value"); // still counting the rows: an indeterminate bar
      } else {
        bar.max = Math.max(total, 1);
        bar.value = Math.min(job.processed, bar.max);
      }
      $("batch-issued").textContent = String(job.issued);
      $("batch-skipped").textContent = String(job.skipped);
      $("batch-failed").textContent = String(job.failed);
      var counts = {
        processed: job.processed,
        total: total === null ? "?" : total,
        issued: job.issued,
        skipped: job.skipped,
        failed: job.failed
      };
      var result = $("batch-result");
      if (job.state === "queued") {
        $("batch-status").textContent = t("js.console.batch.queued");
      } else if (job.state === "running") {
        $("batch-status").textContent = t("js.console.batch.status", counts);
      } else if (job.state === "done") {
        if (total !== null) bar.value = bar.max;
        $("batch-status").textContent = t("js.console.batch.done", counts);
        result.textContent = job.failed ? t("js.console.batch.done_errors", counts) : "";
      } else {
        result.textContent = "";
        $("batch-status").textContent = t("js.console.batch.failed", { detail: P.inLang(job.detail || "") });
      }
      // The link keeps its place while there is no report (hidden, not removed): nothing moves when it comes.
      if (job.error_report) {
        report.setAttribute("href", "/api/v1/batches/" + encodeURIComponent(job.id) + "/errors.csv");
        report.classList.remove("is-invisible");
      } else {
        report.classList.add("is-invisible");
      }
    }

    // A finished job joins the list of recent jobs, as the server lists them when the page opens.
    function remember(job) {
      var body = $("jobs-body");
      var empty = body.querySelector(".jobs__empty");
      if (empty) empty.remove();
      var labels = Array.prototype.map.call($("jobs").querySelectorAll("thead th"), function (th) {
        return th.textContent;
      });
      var badge = job.state === "done" ? "badge badge--ok" : "badge badge--bad";
      var report = job.error_report
        ? el("a", { href: "/api/v1/batches/" + encodeURIComponent(job.id) + "/errors.csv", download: "", text: t("js.console.batch.report") })
        : t("date.none");
      var cells = [
        chinaTime(job.created_at),
        job.filename,
        typeSelect.querySelector('option[value="' + job.type + '"]').text,
        el("span", { class: badge, text: t("js.console.batch.state." + job.state) }),
        t("js.console.batch.counts", job),
        report
      ];
      var row = el("tr", null, cells.map(function (cell, i) {
        return el("td", { "data-label": labels[i] }, [cell]);
      }));
      body.insertBefore(row, body.firstChild);
    }

    function finished(job) {
      return job.state === "done" || job.state === "failed" || job.state === "interrupted";
    }

    function follow(id, misses) {
      P.api("GET", "/api/v1/batches/" + encodeURIComponent(id))
        .then(function (job) {
          render(job);
          if (finished(job)) {
            running = false;
            submit.disabled = false;
            remember(job);
          } else {
            setTimeout(function () {
              follow(id, 0);
            }, 400);
          }
        })
        .catch(function (err) {
          // A blip (a worker restarting) is retried; a lasting silence is said in words.
          if (misses < 5) {
            setTimeout(function () {
              follow(id, misses + 1);
            }, 1000 * (misses + 1));
            return;
          }
          running = false;
          submit.disabled = false;
          $("batch-status").textContent = t("js.console.batch.lost", { message: err.message });
        });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (running) return;
      problemBox.hidden = true;
      var file = fileInput.files && fileInput.files[0];
      if (!file) return fail(t("js.console.batch.no_file"), fileInput);
      if (file.size > MAX_BATCH_BYTES) return fail(t("js.console.batch.too_big"), fileInput);
      var data = new FormData();
      data.append("type", typeSelect.value);
      data.append("file", file, file.name);
      running = true;
      submit.disabled = true;
      $("batch-status").textContent = t("js.console.batch.uploading");
      P.api("POST", "/api/v1/batches", data)
        .then(function (job) {
          fileInput.value = ""; // the same file may be chosen again (to finish what failed)
          showChosen();
          render(job);
          if (finished(job)) {
            running = false;
            submit.disabled = false;
            remember(job);
          } else {
            follow(job.id, 0);
          }
        })
        .catch(function (err) {
          running = false;
          submit.disabled = false;
          $("batch-status").textContent = "";
          fail(err.message, err.status === 422 || err.status === 413 ? fileInput : null);
        });
    });
  }

  setupIssue();
  setupDetail();
  setupBatch();
})();
