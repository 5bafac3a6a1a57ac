// ipsolis pages: progressive enhancement only (every action works without this file).
// Served from our own origin; the CSP allows no inline script.
(function () {
  "use strict";

  // An error summary takes focus so keyboard and screen-reader users hear it first.
  var summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  // Forms that ask before acting (Return, Cancel).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var q = f && f.getAttribute && f.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });

  // Live step output: the server rendered every line so far (each with its id job:seq); the
  // stream (the API's SSE follow route) sends the backlog and then new lines. Lines already on
  // the page are skipped, so a reload or a dropped connection resumes after the last line.
  var log = document.querySelector("pre.log[data-follow]");
  if (log && window.EventSource) {
    var seen = {};
    Array.prototype.forEach.call(log.querySelectorAll("[data-id]"), function (el) {
      seen[el.getAttribute("data-id")] = true;
    });
    var empty = document.getElementById("log-empty");
    var append = function (id, l) {
      if (seen[id]) return;
      seen[id] = true;
      var span = document.createElement("span");
      span.setAttribute("data-id", id);
      if (l.kind === "line") {
        span.textContent = (l.text || "") + "\n";
        if (l.stream === "stderr") span.className = "stderr";
      } else if (l.kind === "step_start") {
        span.textContent = "▶ " + (l.step || "") + "\n";
        span.className = "step";
      } else if (l.kind === "step_end") {
        span.textContent =
          "■ " +
          (l.step || "") +
          " " +
          (l.state || "") +
          (l.exitCode !== undefined ? " (exit " + l.exitCode + ")" : "") +
          "\n";
        span.className = "step";
      } else {
        return;
      }
      if (empty) {
        empty.remove();
        empty = null;
      }
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      log.appendChild(span);
      if (atEnd) log.scrollTop = log.scrollHeight;
    };
    var open = function () {
      var es = new EventSource(log.getAttribute("data-follow"));
      es.addEventListener("line", function (ev) {
        try {
          append(ev.lastEventId, JSON.parse(ev.data));
        } catch (err) {
          if (window.console) console.warn(err);
        }
      });
      // The server cut a slow stream: start again (the backlog is deduplicated above).
      es.addEventListener("reset", function () {
        es.close();
        setTimeout(open, 500);
      });
      window.addEventListener("pagehide", function () {
        es.close();
      });
    };
    open();
    var note = document.getElementById("log-live");
    if (note) note.hidden = false;
  }

  // Live regions: while an order is open (its status and timeline), and the pool's tiles. The
  // same page is fetched again (same rules) and the elements named by data-refresh-ids (default:
  // the order page's) are replaced in place; polling stops when the new page has no
  // data-refresh. Without script the page is complete as served and a reload shows the present.
  var live = document.querySelector("[data-refresh]");
  if (live && window.fetch && window.DOMParser) {
    var every = Number(live.getAttribute("data-refresh")) || 3000;
    var ids = (live.getAttribute("data-refresh-ids") || "status timeline order-actions")
      .split(/\s+/)
      .filter(Boolean);
    var liveNote = document.getElementById("refresh-live");
    if (liveNote) liveNote.hidden = false;
    // A way to stop the updates (WCAG 2.2.2), where the page offers one: paused, nothing is
    // fetched or replaced until resumed.
    var paused = false;
    var pause = document.getElementById("refresh-pause");
    if (pause) {
      pause.hidden = false;
      pause.addEventListener("click", function () {
        paused = !paused;
        pause.setAttribute("aria-pressed", paused ? "true" : "false");
        pause.textContent = pause.getAttribute(paused ? "data-resume" : "data-pause");
      });
    }
    var tick = function () {
      if (paused) {
        setTimeout(tick, every);
        return;
      }
      fetch(window.location.href, { headers: { accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) {
          return r.ok ? r.text() : null;
        })
        .then(function (text) {
          if (!text) return;
          var doc = new DOMParser().parseFromString(text, "text/html");
          ids.forEach(function (id) {
            var now = document.getElementById(id);
            var next = doc.getElementById(id);
            if (now && next && now.innerHTML !== next.innerHTML) now.innerHTML = next.innerHTML;
          });
          var still = doc.querySelector("[data-refresh]");
          if (still) setTimeout(tick, every);
        })
        .catch(function () {
          setTimeout(tick, every * 2);
        });
    };
    setTimeout(tick, every);
  }
  // Copy buttons (the token shown once): shown only where the Clipboard API exists.
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (b) {
    var target = document.getElementById(b.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value || target.textContent || "");
    });
  });
})();
