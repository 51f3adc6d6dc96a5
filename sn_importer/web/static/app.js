/* sn-importer web page: drag-and-drop on the upload form, live progress on a run.
   Everything works without it too: the form posts as is, run pages refresh themselves. */
(function () {
  "use strict";

  function plural(n, one, many) { return n + " " + (n === 1 ? one : (many || one + "s")); }

  function setupDrop(zone) {
    var input = zone.querySelector("input[type=file]");
    var shown = zone.querySelector("[data-filename]");
    var limit = parseInt(zone.getAttribute("data-max-bytes"), 10) || 0;
    // the endings come from the server's formats table, through the input's accept attribute
    var accepted = (input.getAttribute("accept") || "").split(",").filter(Boolean);
    var formats = zone.getAttribute("data-formats") || accepted.join(", ");

    function describe() {
      var file = input.files && input.files[0];
      shown.classList.remove("bad");
      if (!file) { shown.textContent = ""; return true; }
      var name = file.name.toLowerCase();
      var ok = accepted.some(function (ending) { return name.slice(-ending.length) === ending; });
      if (!ok) {
        shown.textContent = file.name + ": not a sheet this page reads (" + formats + ")";
        shown.classList.add("bad");
        return false;
      }
      if (limit && file.size > limit) {
        shown.textContent = file.name + ": larger than " + Math.round(limit / 1048576) + " MB";
        shown.classList.add("bad");
        return false;
      }
      shown.textContent = "Selected: " + file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
      return true;
    }

    input.addEventListener("change", describe);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        describe();
      }
    });
    var form = zone.closest("form");
    form.addEventListener("submit", function (event) {
      if (!describe()) { event.preventDefault(); input.focus(); return; }
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; button.textContent = "Uploading…"; }
    });
  }

  function setupOnce(form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  }

  function renderCounts(list, counts) {
    list.textContent = "";
    counts.forEach(function (item) {
      var li = document.createElement("li");
      var n = document.createElement("span");
      n.className = "n"; n.textContent = item.count;
      var chip = document.createElement("span");
      chip.className = "chip st-" + item.status; chip.textContent = item.status;
      li.appendChild(n); li.appendChild(chip);
      list.appendChild(li);
    });
  }

  function setupLive(box) {
    var url = box.getAttribute("data-status-url");
    var phase = box.getAttribute("data-phase");
    var bar = box.querySelector("[data-bar]");
    var figures = box.querySelector("[data-figures]");
    var ahead = box.querySelector("[data-ahead]");
    var counts = box.querySelector("[data-counts]");
    var wait = box.querySelector("[data-wait]");
    var failures = 0, ticking = 0;

    function show(data) {
      if (data.phase !== phase) { window.location.reload(); return; }
      var done = data.resources[0], total = data.resources[1];
      if (bar) { bar.max = total || 1; bar.value = done; bar.textContent = done + " of " + total; }
      if (figures) { figures.textContent = data.figures; }
      if (ahead) {
        ahead.textContent = data.running ? "Running now." :
          (data.ahead ? "Waiting: " + plural(data.ahead, "run") + " ahead of this one." : "Next in line.");
      }
      if (counts && data.counts.length) { renderCounts(counts, data.counts); }
      if (wait) { showWait(data.wait); }
    }

    // Why the run stands still, as the server words it; the seconds count down between two polls.
    function showWait(info) {
      window.clearInterval(ticking);
      if (!info) { wait.hidden = true; wait.textContent = ""; return; }
      var left = info.seconds, started = Date.now();
      function tick() {
        var now = Math.max(1, left - Math.floor((Date.now() - started) / 1000));
        wait.textContent = info.text.replace(/^Waiting \d+ s:/, now < 90 ? "Waiting " + now + " s:" : "$&");
      }
      wait.hidden = false;
      tick();
      ticking = window.setInterval(tick, 1000);
    }

    // The server does not answer (stopped, restarting, the network): say so rather than show a run
    // going and a countdown that no longer mean anything, and keep asking.
    function lost() {
      failures += 1;
      if (failures >= 2) {
        window.clearInterval(ticking);
        if (wait) { wait.hidden = true; }
        if (ahead) { ahead.textContent = "The server cannot be reached; trying again\u2026"; }
      }
      window.setTimeout(poll, Math.min(10000, 1000 * failures));
    }

    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          var json = (response.headers.get("Content-Type") || "").indexOf("json") >= 0;
          // answered, but not with the run's status (a restart ended the session, the run is gone):
          // the page itself says what is true now
          if (!response.ok || !json) { window.location.reload(); return; }
          return response.json().then(function (data) { failures = 0; show(data); window.setTimeout(poll, 700); });
        })
        .catch(lost);
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(setupDrop);
    document.querySelectorAll("form[data-once]").forEach(setupOnce);
    document.querySelectorAll("[data-live]").forEach(setupLive);
    document.documentElement.classList.add("js");
  });
})();
