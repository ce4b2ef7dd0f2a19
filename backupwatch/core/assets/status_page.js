(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var LEAD = 3;  // header cells of a row (tenant, status, newest backup) before the days
  var body = document.querySelector("#grid tbody");
  var rows = Array.prototype.slice.call(body.rows);
  var q = document.getElementById("q"), onlyFailing = document.getElementById("failing");
  var shown = document.getElementById("shown"), none = document.getElementById("none");
  var tip = document.getElementById("tip");
  var chips = Array.prototype.slice.call(document.querySelectorAll(".chip"));
  var statusFilter = "", selftest = false;

  function expand(template, numbers) {
    var values = numbers.split(" ");
    return D.text[template].replace(/\u0001(\d+)\u0002/g, function (hole, i) {
      return values[+i];
    });
  }

  // [heading, status or "", the rest]: what a reader needs to know about one cell.
  function describe(r, c) {
    var tr = rows[r], cell = D.rows[r][c];
    var head = tr.cells[0].firstChild.textContent + " · " + D.days[c];
    if (!D.has[c]) return [head, "", "No report this day: the daily run did not archive one."];
    if (cell === 0) return [head, "", "Not in this day's report: not yet a tenant, or gone."];
    var text = expand(cell[1], cell[2]);
    if (cell[0] < 0) return [head, "NOT CHECKED", text];
    var failing = cell.length > 3 ? cell[3] === 1 : D.failing[cell[0]] === 1;
    var status = D.status[cell[0]];
    return [head, status + (failing ? " · failing" : " · not failing"), text];
  }

  function tipText(r, c) {
    var d = describe(r, c);
    return d[0] + "\n" + (d[1] ? d[1] + "\n" : "") + d[2];
  }

  function showTip(td) {
    var r = td.parentNode.sectionRowIndex, c = td.cellIndex - LEAD;
    if (c < 0) return;
    var d = describe(r, c);
    tip.textContent = "";
    var head = document.createElement("b");
    head.textContent = d[0];
    tip.appendChild(head);
    if (d[1]) {
      var sw = document.createElement("i");
      sw.className = "sw " + td.className;
      tip.appendChild(sw);
      tip.appendChild(document.createTextNode(d[1] + "\n"));
    }
    tip.appendChild(document.createTextNode(d[2]));
    tip.hidden = false;
    var box = td.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(box.left, window.innerWidth - w - 8);
    var top = box.bottom + 6;
    if (top + h > window.innerHeight - 4) top = box.top - h - 6;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = Math.max(4, top) + "px";
  }

  // Hover shows a cell's tooltip; a click (or a tap) pins it until the next click or Escape.
  var pinned = null;
  function pin(td) {
    if (pinned) pinned.classList.remove("pin");
    pinned = td;
    if (td) { td.classList.add("pin"); showTip(td); } else tip.hidden = true;
  }
  body.addEventListener("mouseover", function (event) {
    if (pinned) return;
    var td = event.target.closest("td");
    if (td) showTip(td); else tip.hidden = true;
  });
  body.addEventListener("mouseleave", function () { if (!pinned) tip.hidden = true; });
  document.addEventListener("click", function (event) {
    var td = event.target.closest("#grid tbody td");
    pin(td && td !== pinned ? td : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") pin(null);
  });
  window.addEventListener("scroll", function () {
    if (pinned) showTip(pinned); else tip.hidden = true;
  }, { passive: true });

  // #cell=<tenant>,<YYYY-MM-DD> pins that cell's tooltip: a link to one tenant on one day.
  function cellFor(spec) {
    var at = spec.lastIndexOf(","), name = spec.slice(0, at), day = spec.slice(at + 1);
    var c = D.days.findIndex(function (d) { return d.slice(-10) === day; });
    var tr = rows.find(function (row) { return row.cells[0].firstChild.textContent === name; });
    return c >= 0 && tr ? tr.cells[c + LEAD] : null;
  }

  function apply() {
    var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var tr = rows[i], text = tr.getAttribute("data-q");
      var visible = (!onlyFailing.checked || tr.classList.contains("f")) &&
        (!statusFilter || tr.getAttribute("data-s") === statusFilter) &&
        terms.every(function (term) { return text.indexOf(term) >= 0; });
      tr.hidden = !visible;
      if (visible) count++;
    }
    chips.forEach(function (chip) {
      chip.setAttribute("aria-pressed", String(chip.getAttribute("data-status") === statusFilter));
    });
    shown.textContent = count === rows.length ? "showing all " + rows.length
      : "showing " + count + " of " + rows.length;
    none.hidden = count > 0 || rows.length === 0;
    document.body.setAttribute("data-shown", String(count));
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    q.value = params.get("q") || "";
    onlyFailing.checked = params.has("failing");
    statusFilter = (params.get("status") || "").toUpperCase();
    selftest = params.has("selftest");
    apply();
    if (params.get("cell")) pin(cellFor(params.get("cell")));
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (q.value) params.set("q", q.value);
    if (onlyFailing.checked) params.set("failing", "");
    if (statusFilter) params.set("status", statusFilter);
    if (selftest) params.set("selftest", "");
    var hash = params.toString().replace(/=(?=&|$)/g, "");
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (error) { /* some file:// contexts refuse; the filter still works */ }
  }

  function changed() { apply(); writeHash(); }
  q.addEventListener("input", changed);
  onlyFailing.addEventListener("change", changed);
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var status = chip.getAttribute("data-status");
      statusFilter = statusFilter === status ? "" : status;
      changed();
    });
  });
  window.addEventListener("hashchange", readHash);
  readHash();

  // For tests in a headless browser: what a reader sees, written where --dump-dom shows it.
  if (selftest) {
    document.querySelectorAll(".sw, .pill").forEach(function (el) {
      el.setAttribute("data-bg", getComputedStyle(el).backgroundColor);
    });
    rows.forEach(function (tr, r) {
      for (var c = 0; c < D.days.length; c++) {
        var td = tr.cells[c + LEAD];
        var style = getComputedStyle(td);
        td.setAttribute("data-bg", style.backgroundColor);
        td.setAttribute("data-bgi", style.backgroundImage === "none" ? "" : "gradient");
        td.setAttribute("data-tip", tipText(r, c));
      }
    });
  }
  document.documentElement.setAttribute("data-ready", "1");
})();
