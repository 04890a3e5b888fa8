// What the staff and citizen pages share: their words, calls to the JSON API with the page session's CSRF
// token, problem documents turned into a message in the page's language, dates, and idempotency keys.
// Loaded before each page's own script; exposes one global, RegistryPage.
(function () {
  "use strict";

  var stringsEl = document.getElementById("page-strings");
  var S = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  var LANG = document.documentElement.lang === "en" ? "en" : "zh";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function t(key, vars) {
    var text = S[key];
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
    });
  }

  // API messages read "中文 / English": keep the half in the page's language.
  function inLang(text) {
    if (typeof text !== "string") return "";
    var at = text.indexOf(" / ");
    if (at < 0) return text;
    return LANG === "en" ? text.slice(at + 3) : text.slice(0, at);
  }

  function ApiError(status, problem, message) {
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || {};
    this.code = (problem && problem.code) || "";
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function problemMessage(status, problem) {
    if (problem && typeof problem.detail === "string" && problem.detail) return inLang(problem.detail);
    if (problem && typeof problem.title === "string" && problem.title) return inLang(problem.title);
    return t("js.http_error", { status: status });
  }

  // A session that ended (idle, logged out elsewhere) sends the user to log in again, then back here.
  function toLogin() {
    var login = document.body.getAttribute("data-login") || "/login";
    var here = location.pathname + location.search;
    location.assign(login + "?expired=1&next=" + encodeURIComponent(here));
  }

  // fetch() against the API with the session cookie. body: an object (sent as JSON) or FormData.
  // Resolves with the parsed JSON (or the Response for non-JSON answers); rejects with an ApiError whose
  // message is ready to show.
  function api(method, path, body, options) {
    var headers = { Accept: "application/json, application/problem+json" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = CSRF;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (options && options.headers) {
      Object.keys(options.headers).forEach(function (k) {
        headers[k] = options.headers[k];
      });
    }
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(
      function (resp) {
        var type = resp.headers.get("content-type") || "";
        var isJson = type.indexOf("json") >= 0;
        if (resp.ok) {
          if (resp.status === 204) return null;
          return isJson ? resp.json() : resp;
        }
        var parsed = isJson ? resp.json().catch(function () { return null; }) : Promise.resolve(null);
        return parsed.then(function (problem) {
          if (resp.status === 401 && !(options && options.noLoginRedirect)) toLogin();
          throw new ApiError(resp.status, problem, problemMessage(resp.status, problem));
        });
      },
      function () {
        throw new ApiError(0, null, t("js.network"));
      }
    );
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // A licence's dates are calendar dates as the registry wrote them: never shifted by a time zone.
  function formatDate(value) {
    if (!value) return t("date.none");
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
    if (!m) return String(value);
    var y = +m[1], mo = +m[2], d = +m[3];
    return t("date.format", { y: y, m: mo, d: d, mm: pad(mo), dd: pad(d) });
  }

  // Moments (logins, pulls, expiries) are shown in the browser's local time.
  function formatDateTime(value) {
    if (!value) return t("date.none");
    var when = new Date(value);
    if (isNaN(when.getTime())) return String(value);
    var date = t("date.format", {
      y: when.getFullYear(), m: when.getMonth() + 1, d: when.getDate(),
      mm: pad(when.getMonth() + 1), dd: pad(when.getDate())
    });
    return date + " " + pad(when.getHours()) + ":" + pad(when.getMinutes());
  }

  // An Idempotency-Key: 128 random bits (crypto.getRandomValues works on plain HTTP too).
  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "class") node.className = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  window.RegistryPage = {
    lang: LANG,
    strings: S,
    t: t,
    inLang: inLang,
    api: api,
    ApiError: ApiError,
    formatDate: formatDate,
    formatDateTime: formatDateTime,
    newKey: newKey,
    el: el
  };
})();
