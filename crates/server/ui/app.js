// farguard web UI: sign-in, the offline world map coloured by level, the
// incident board, the registers and the audit log. Talks only to this
// server; the map's boundaries come from /geo (Natural Earth), no tiles.
"use strict";
(function () {
  const t = function (k) { return I18N.t(k); };
  const $ = function (id) { return document.getElementById(id); };
  let token = sessionStorage.getItem("fg.token");
  let me = null;
  const CATS = ["security", "political", "legal", "economic", "reputation", "natural", "health"];

  function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({}, opts.headers || {});
    if (token) headers.authorization = "Bearer " + token;
    return fetch(path, Object.assign({}, opts, { headers: headers, credentials: "same-origin" }))
      .then(function (r) {
        return r.text().then(function (txt) {
          let body = null;
          try { body = JSON.parse(txt); } catch (e) { body = { message: txt }; }
          if (!r.ok) { const err = new Error(body.message || r.status); err.status = r.status; err.body = body; throw err; }
          return body;
        });
      });
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  // --- sign-in ---------------------------------------------------------------
  function showLogin(msg) {
    document.querySelectorAll("main > section").forEach(function (s) { s.hidden = true; });
    $("login-view").hidden = false; $("tabs").hidden = true; $("logout").hidden = true; $("who").textContent = "";
    $("login-error").textContent = msg || "";
  }
  function start() {
    api("/api/v1/me").then(function (m) {
      me = m;
      $("who").textContent = m.name + " · " + m.role + (m.org ? " · " + m.org : "");
      $("tabs").hidden = false; $("logout").hidden = false; $("login-view").hidden = true;
      document.querySelector('[data-tab="audit"]').hidden = m.may.indexOf("ReadAudit") < 0;
      document.querySelector('[data-tab="registers"]').hidden = m.may.indexOf("ReadSites") < 0 && m.may.indexOf("ReadPeople") < 0;
      show(location.hash.slice(1) || "map");
    }).catch(function (e) { showLogin(e.status === 401 ? "" : e.message); });
  }
  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const f = ev.target;
    token = null; sessionStorage.removeItem("fg.token");
    api("/api/v1/login", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: f.name.value, password: f.password.value }) })
      .then(start).catch(function (e) { $("login-error").textContent = t("login.failed") + e.message; });
  });
  $("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    token = ev.target.token.value.trim();
    sessionStorage.setItem("fg.token", token);
    start();
  });
  $("logout").addEventListener("click", function () {
    api("/api/v1/logout", { method: "POST" }).catch(function () {}).then(function () {
      token = null; sessionStorage.removeItem("fg.token"); showLogin("");
    });
  });

  // --- tabs --------------------------------------------------------------------
  function show(tab) {
    if (["map", "incidents", "registers", "audit"].indexOf(tab) < 0) tab = "map";
    document.querySelectorAll("main > section").forEach(function (s) { s.hidden = s.id !== tab + "-view"; });
    document.querySelectorAll("#tabs button").forEach(function (b) { b.classList.toggle("active", b.dataset.tab === tab); });
    if (location.hash.slice(1) !== tab) history.replaceState(null, "", "#" + tab);
    ({ map: loadMap, incidents: loadIncidents, registers: loadRegisters, audit: loadAudit })[tab]();
  }
  $("tabs").addEventListener("click", function (ev) { if (ev.target.dataset.tab) show(ev.target.dataset.tab); });

  // --- map ---------------------------------------------------------------------
  let topo = null, mapData = null, selected = null;
  const cat = $("category");
  function fillCategories() {
    const v = cat.value || "security";
    cat.textContent = "";
    CATS.forEach(function (c) { const o = el("option", { value: c }, t("cat." + c)); cat.appendChild(o); });
    cat.value = v;
  }
  function legend() {
    const ul = $("legend"); ul.textContent = "";
    [4, 3, 2, 1, 0].forEach(function (r) { ul.appendChild(el("li", { class: "l" + r }, t("lvl." + r))); });
  }
  function drawCountries() {
    const g = $("countries");
    if (g.childNodes.length) return Promise.resolve();
    const load = topo ? Promise.resolve(topo) : fetch("/geo/countries-110m.json").then(function (r) { return r.json(); });
    return load.then(function (tj) {
      topo = tj;
      Topo.countries(tj).forEach(function (c) {
        const p = svg("path", { d: c.d, class: "nodata", "data-numeric": c.id || "", "data-name": c.name });
        p.addEventListener("click", function () { select(p); });
        g.appendChild(p);
      });
    });
  }
  function colour() {
    const byNum = {};
    (mapData.countries || []).forEach(function (c) { if (c.numeric) byNum[c.numeric] = c; });
    document.querySelectorAll("#countries path").forEach(function (p) {
      const c = byNum[p.dataset.numeric];
      p.setAttribute("class", c ? "lvl-" + c.level_rank : "nodata");
      p.dataset.level = c ? c.level : "";
      p.dataset.iso = c ? c.country : "";
      if (p === selected) p.classList.add("sel");
    });
    $("map-at").textContent = mapData.at ? t("map.as_of") + mapData.at.replace("T", " ").slice(0, 16) + " UTC" : "";
  }
  function drawEvents() {
    const g = $("events"); g.textContent = "";
    if (!$("show-events").checked) return Promise.resolve();
    return api("/api/v1/events?located=true&limit=500&category=" + cat.value).then(function (page) {
      page.items.forEach(function (e) {
        if (e.lat === null || e.lon === null) return;
        const q = Topo.project([e.lon, e.lat]);
        const c = svg("circle", { cx: q[0].toFixed(1), cy: q[1].toFixed(1), r: (0.8 + e.severity * 0.5).toFixed(1), "data-event": e.id });
        const title = svg("title"); title.textContent = e.title + " (" + e.subtype + ", " + e.severity + ")";
        c.appendChild(title);
        g.appendChild(c);
      });
    });
  }
  function panel() {
    const box = $("country-panel"); box.textContent = "";
    if (!selected) { box.appendChild(el("p", {}, t("map.pick"))); return; }
    const c = (mapData.countries || []).find(function (x) { return x.numeric === selected.dataset.numeric; });
    box.appendChild(el("h3", {}, c ? c.name + " (" + c.country + ")" : selected.dataset.name));
    const dl = el("dl");
    function row(k, v) { dl.appendChild(el("dt", {}, t(k))); dl.appendChild(el("dd", {}, v)); }
    if (c) {
      row("map.level", t("lvl." + c.level_rank));
      row("map.score", c.score); row("map.trend", c.trend);
      row("map.events_counted", c.events); row("map.sites", c.sites); row("map.people", c.people); row("map.incidents", c.incidents);
      if (c.why) row("map.why", c.why);
    } else {
      row("map.level", t("map.normal"));
    }
    box.appendChild(dl);
  }
  function select(p) {
    if (selected) selected.classList.remove("sel");
    selected = p; p.classList.add("sel"); panel();
  }
  function loadMap() {
    fillCategories(); legend();
    return drawCountries()
      .then(function () { return api("/api/v1/map?category=" + cat.value); })
      .then(function (m) { mapData = m; colour(); panel(); return drawEvents(); })
      .then(function () { document.body.dataset.mapReady = "1"; })
      .catch(function (e) { $("map-at").textContent = e.message; });
  }
  cat.addEventListener("change", function () { document.body.dataset.mapReady = ""; loadMap(); });
  $("show-events").addEventListener("change", drawEvents);

  // --- incidents -----------------------------------------------------------------
  function loadIncidents() {
    const list = $("incident-list"); list.textContent = "";
    api("/api/v1/incidents").then(function (items) {
      if (!items.length) { list.appendChild(el("p", {}, t("incidents.none"))); return; }
      items.forEach(function (i) {
        const card = el("div", { class: "card", "data-incident": i.id });
        card.appendChild(el("span", { class: "badge l" + i.level_rank }, i.level));
        card.appendChild(document.createTextNode(" " + i.title + " · " + i.area + " · " + i.status));
        card.addEventListener("click", function () { openIncident(i.id); });
        list.appendChild(card);
      });
    }).catch(function (e) { list.appendChild(el("p", { class: "error" }, e.message)); });
  }
  function openIncident(id) {
    const box = $("incident-detail"); box.textContent = "";
    api("/api/v1/incidents/" + encodeURIComponent(id)).then(function (i) {
      box.dataset.incident = i.id;
      box.appendChild(el("h3", {}, i.title + " — " + i.level + " · " + i.command));
      box.appendChild(el("p", {}, i.reason));
      box.appendChild(el("h4", {}, t("incidents.members")));
      const ul = el("ul"); i.members.forEach(function (m) { ul.appendChild(el("li", {}, m.role + ": " + m.org)); }); box.appendChild(ul);
      box.appendChild(el("h4", {}, t("incidents.tasks")));
      const tb = el("table"); const tbody = el("tbody");
      i.tasks.forEach(function (k) {
        const tr = el("tr", { "data-task": k.id });
        [k.title, k.owner_role + " (" + k.org + ")", k.status, t("incidents.due") + " " + k.due_at.replace("T", " ").slice(0, 16)]
          .forEach(function (v) { tr.appendChild(el("td", {}, v)); });
        tbody.appendChild(tr);
      });
      tb.appendChild(tbody); box.appendChild(tb);
      const a = i.accountability;
      box.appendChild(el("h4", {}, t("incidents.accountability")));
      box.appendChild(el("p", { id: "accountability" }, a.people + " · " + t("incidents.safe") + " " + a.safe + " · " +
        t("incidents.need_help") + " " + a.need_help + " · " + t("incidents.no_answer") + " " + a.no_answer));
      const al = el("ul", { id: "checkins" });
      i.checkins.forEach(function (c) { al.appendChild(el("li", { "data-recipient": c.recipient, "data-status": c.status }, c.name + ": " + c.status + (c.message ? " — " + c.message : ""))); });
      box.appendChild(al);
      box.appendChild(el("h4", {}, t("incidents.timeline")));
      const tl = el("ol");
      i.timeline.forEach(function (e) { tl.appendChild(el("li", {}, e.at.replace("T", " ").slice(0, 16) + " " + e.actor + " " + e.kind + ": " + e.text)); });
      box.appendChild(tl);
    }).catch(function (e) { box.appendChild(el("p", { class: "error" }, e.message)); });
  }

  // --- registers -------------------------------------------------------------------
  function fillTable(id, rows, cols) {
    const tbody = document.querySelector("#" + id + " tbody"); tbody.textContent = "";
    rows.forEach(function (r) { const tr = el("tr"); cols(r).forEach(function (v) { tr.appendChild(el("td", {}, v)); }); tbody.appendChild(tr); });
  }
  function searchSites() {
    const f = $("site-search");
    const q = new URLSearchParams({ limit: "100" });
    if (f.q.value) q.set("q", f.q.value);
    if (f.country.value) q.set("country", f.country.value);
    return api("/api/v1/sites?" + q).then(function (p) {
      $("site-total").textContent = p.total + t("registers.total");
      fillTable("sites", p.items, function (s) { return [s.id, s.name, s.kind, s.country, s.org]; });
    }).catch(function (e) { $("site-total").textContent = e.message; });
  }
  function searchPeople() {
    const f = $("people-search");
    const q = new URLSearchParams({ limit: "100" });
    if (f.q.value) q.set("q", f.q.value);
    return api("/api/v1/people?" + q).then(function (p) {
      $("people-total").textContent = p.total + t("registers.total");
      fillTable("people", p.items, function (x) { return [x.id, x.name, x.org || "", x.countries.join(" ")]; });
    }).catch(function (e) { $("people-total").textContent = e.message; });
  }
  function loadRegisters() { searchSites(); searchPeople(); }
  $("site-search").addEventListener("submit", function (ev) { ev.preventDefault(); searchSites(); });
  $("people-search").addEventListener("submit", function (ev) { ev.preventDefault(); searchPeople(); });
  $("import-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const file = ev.target.file.files[0];
    if (!file) return;
    const geo = /\.(geo)?json$/i.test(file.name);
    file.arrayBuffer().then(function (buf) {
      return api("/api/v1/import/sites?name=" + encodeURIComponent(file.name), {
        method: "POST", headers: { "content-type": geo ? "application/geo+json" : "text/csv" }, body: buf });
    }).then(function (r) { $("import-result").textContent = JSON.stringify(r, null, 2); searchSites(); })
      .catch(function (e) { $("import-result").textContent = JSON.stringify(e.body || e.message, null, 2); });
  });

  // --- audit -------------------------------------------------------------------------
  function loadAudit() {
    api("/api/v1/audit/verify").then(function (v) {
      $("audit-verdict").textContent = (v.intact ? t("audit.intact") : t("audit.broken")) + v.entries + " · " + v.head.slice(0, 16);
    }).catch(function (e) { $("audit-verdict").textContent = e.message; });
    api("/api/v1/audit?limit=100").then(function (rows) {
      fillTable("audit", rows, function (e) { return [e.seq, e.at.replace("T", " ").slice(0, 19), e.actor, e.action, e.target]; });
    }).catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    I18N.onChange(function () {
      fillCategories(); legend();
      if (mapData) { colour(); panel(); }
    });
    start();
  });
})();
