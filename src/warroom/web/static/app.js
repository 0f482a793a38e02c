// warroom dashboard: keep "x min ago" current and swap in fresh page content on events.
// Pages work without this file; it only adds live refresh.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var scope = document.body.getAttribute("data-live-scope") || "all";
  var pending = null;

  function say(text) { if (status) { status.textContent = text; } }

  function ago(iso) {
    var s = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    if (isNaN(s)) { return ""; }
    if (s < 0) { return s > -60 ? "in under a minute" : "in " + span(-s); }
    return span(s) === "just now" ? "just now" : span(s) + " ago";
  }
  function span(s) {
    if (s < 60) { return "just now"; }
    if (s < 3600) { return Math.floor(s / 60) + " min"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"; }
    return Math.floor(s / 86400) + " d";
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
    if (typing()) { say("New activity: reload the page to see it (your form is kept until then)."); return; }
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
          say("Live · updated " + new Date().toISOString().slice(11, 19) + " UTC");
        }
      })
      .catch(function (e) { say("Live refresh failed (" + e.message + "); reload the page."); });
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
  if (!window.EventSource) { say("Live updates unavailable in this browser; reload to refresh."); return; }
  var source = new EventSource("/api/v1/events");
  source.addEventListener("hello", function () { say("Live · waiting for events"); });
  ["audit", "agent.turn", "debate.package"].forEach(function (name) {
    source.addEventListener(name, function (ev) { if (relevant(ev.data)) { soon(); } });
  });
  source.onerror = function () { say("Live updates disconnected; retrying…"); };
})();
