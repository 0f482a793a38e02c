// warroom dashboard: keep "x min ago" current and swap in fresh page content on events.
// Pages work without this file; it only adds live refresh.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var scope = document.body.getAttribute("data-live-scope") || "all";
  var pending = null;
  // the words, in the dashboard's language, rendered by the server into the page
  var words = {};
  try { words = JSON.parse(document.getElementById("warroom-i18n").textContent); } catch (e) { words = {}; }
  function t(key, fallback, values) {
    var text = words[key] || fallback;
    for (var k in (values || {})) { text = text.split("{" + k + "}").join(values[k]); }
    return text;
  }

  function say(text) { if (status) { status.textContent = text; } }

  function ago(iso) {
    var s = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    if (isNaN(s)) { return ""; }
    if (s < 0) { return s > -60 ? t("in_under_a_minute", "in under a minute") : t("in", "in {span}", { span: span(-s) }); }
    return s < 60 ? t("just_now", "just now") : t("ago", "{span} ago", { span: span(s) });
  }
  function span(s) {
    if (s < 3600) { return t("min", "{minutes} min", { minutes: Math.floor(s / 60) }); }
    if (s < 86400) { return t("h_min", "{hours} h {minutes} min", { hours: Math.floor(s / 3600), minutes: Math.floor((s % 3600) / 60) }); }
    return t("d", "{days} d", { days: Math.floor(s / 86400) });
  }
  function clock() {
    var zone = words.timezone || "UTC";
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit",
        second: "2-digit", hourCycle: "h23" }).format(new Date()) + (zone === "UTC" ? " UTC" : "");
    } catch (e) { return new Date().toISOString().slice(11, 19) + " UTC"; }
  }
  function tick() {
    var els = document.querySelectorAll("[data-ago]");
    for (var i = 0; i < els.length; i++) { els[i].textContent = ago(els[i].getAttribute("data-ago")); }
  }

  function typing() {
    // never throw away what someone is typing into an approval form
    var fields = document.querySelectorAll(
      "#live-region input:not([type=hidden]), #live-region textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value || fields[i] === document.activeElement) { return true; }
    }
    return false;
  }

  function refresh() {
    pending = null;
    if (typing()) { say(t("new_activity", "New activity: reload the page to see it (your form is kept until then).")); return; }
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live-region");
        var region = document.getElementById("live-region");
        if (fresh && region && !typing()) {
          region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
          region.classList.remove("fresh"); void region.offsetWidth; region.classList.add("fresh");
          tick();
          say(t("updated", "Live · updated {time}", { time: clock() }));
        }
      })
      .catch(function (e) { say(t("failed", "Live refresh failed ({error}); reload the page.", { error: e.message })); });
  }
  function soon() { if (!pending) { pending = setTimeout(refresh, 400); } }

  function relevant(data) {
    if (scope === "all") { return true; }
    try { var e = JSON.parse(data); return !e.incident_id || e.incident_id === scope; }
    catch (err) { return false; }
  }

  tick();
  setInterval(tick, 30000);
  if (scope === "none") { return; }  // the sign-in page: nothing to follow yet
  if (!window.EventSource) { say(t("unavailable", "Live updates unavailable in this browser; reload to refresh.")); return; }
  var source = new EventSource("/api/v1/events");
  source.addEventListener("hello", function () { say(t("waiting", "Live · waiting for events")); });
  ["audit", "agent.turn", "debate.package"].forEach(function (name) {
    source.addEventListener(name, function (ev) { if (relevant(ev.data)) { soon(); } });
  });
  source.onerror = function () { say(t("disconnected", "Live updates disconnected; retrying…")); };
})();
