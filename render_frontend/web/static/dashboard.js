// renderd dashboard: keeps the server-rendered page live from /api/v1/events (no build step).
// Every string from the spool is hostile: it only ever goes into textContent or an attribute
// set with setAttribute, never into markup (no HTML-parsing DOM call anywhere in this file).
"use strict";
(function () {
  const TOKEN_KEY = "renderd-token";
  const page = document.body.dataset.page;
  const jobId = document.body.dataset.job || null;
  const shownThumbs = new Set();
  let refreshTimer = null;
  let lastRefresh = 0;
  const MIN_GAP = 1000;  // ms between two refreshes: a burst of events is one refresh
  let connected = false;

  // ------------------------------------------------------------------ token
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
  document.getElementById("token-save").addEventListener("click", () => {
    const value = document.getElementById("token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, value);
    document.getElementById("token").value = "";
    say(value ? "token saved for this tab" : "token cleared", false);
  });

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) node.setAttribute(k, String(v));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  const num = (v) => (typeof v === "number" && isFinite(v) ? v : 0);
  function duration(s) {
    if (typeof s !== "number" || !isFinite(s)) return "-";
    s = Math.floor(s);
    const two = (n) => String(n).padStart(2, "0");
    return s >= 3600 ? `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`
                     : `${Math.floor(s / 60)}m${two(s % 60)}s`;
  }
  const gib = (n) => (typeof n === "number" ? (n / 2 ** 30).toFixed(1) + "G" : "?");

  function say(message, isError) {
    const box = document.getElementById("message");
    box.textContent = message;
    box.className = isError ? "message error" : "message";
    box.hidden = false;
  }
  function banner(message) {
    const box = document.getElementById("banner");
    box.textContent = message || "";
    box.hidden = !message;
    const live = document.getElementById("live");
    live.textContent = message ? "offline" : "live";
    live.className = message ? "live off" : "live on";
  }
  const LOST = "The renderd web service is not answering (it stopped, or the network is down). " +
               "This page shows the farm as it was; it reconnects by itself.";

  async function api(method, path, body) {
    const headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (err) {
      banner(LOST);
      throw err;
    }
    let data = null;
    try { data = await resp.json(); } catch (err) { data = null; }
    return {ok: resp.ok, status: resp.status, data};
  }
  const errorOf = (r) => (r.data && typeof r.data.error === "string" ? r.data.error : `HTTP ${r.status}`);

  function progress(done, total) {
    const t = Math.max(num(total), 0);
    const bar = el("progress", {class: "bar", max: Math.max(t, 1), value: Math.min(num(done), Math.max(t, 1))});
    return [bar, el("span", {class: "frames"}, `${num(done)}/${t}`)];
  }
  function actionButtons(job) {
    const out = [["pause", "Pause"], ["resume", "Resume"], ["retry", "Retry"], ["cancel", "Cancel"],
                 ["remove", "Remove"]].map(([a, label]) =>
      el("button", {type: "button", "data-action": a, "data-job": job}, label));
    out.push(el("input", {type: "number", class: "prio", min: 0, max: 999, "aria-label": "priority", "data-job": job}));
    out.push(el("button", {type: "button", "data-action": "priority", "data-job": job}, "Set priority"));
    return out;
  }
  function replaceRows(tbody, rows, columns, empty) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {class: "empty"}, el("td", {colspan: columns}, empty))]));
  }
  const stateCell = (s) => el("td", {class: "state state-" + text(s)}, text(s));

  // ------------------------------------------------------------------ dashboard
  function jobRow(j) {
    const c = j.chunks || {};
    const f = j.frames || {};
    const bad = num(c.failed) + num(c.bad);
    const job = text(j.job);
    return el("tr", {"data-job": job},
      el("td", {}, el("a", {href: "/jobs/" + encodeURIComponent(job)}, job)),
      el("td", {}, text(j.name)), el("td", {}, text(j.owner)), stateCell(j.state),
      el("td", {}, ...progress(f.done, f.total)),
      el("td", {}, `${num(c.done)}/${num(c.total)}` + (bad ? ` (${bad} failed)` : "")),
      el("td", {}, duration(j.eta)), el("td", {}, duration(j.elapsed)), el("td", {}, text(j.priority)),
      el("td", {}, (Array.isArray(j.hosts) ? j.hosts : []).map(text).join(", ")),
      el("td", {class: "actions"}, ...actionButtons(job)));
  }
  function hostRow(h) {
    const load = Array.isArray(h.load) && h.load.length ? h.load[0] : null;
    const chunks = (Array.isArray(h.chunks) ? h.chunks : []).filter((c) => c && typeof c === "object").map((c) => {
      const p = c.progress && typeof c.progress.progress === "number" ? ` ${Math.round(100 * c.progress.progress)}%` : "";
      return text(c.chunk) + p;
    });
    return el("tr", {}, el("td", {}, text(h.name)), stateCell(h.state), el("td", {}, text(h.cpus)),
      el("td", {}, text(load)), el("td", {}, `${gib(h.mem_free)}/${gib(h.mem_total)}`),
      el("td", {}, `${gib(h.swap_free)}/${gib(h.swap_total)}`), el("td", {}, chunks.join(", ") || "-"),
      el("td", {}, text(h.heartbeat_age) + "s"));
  }
  async function refreshDashboard() {
    const [jobs, hosts] = await Promise.all([api("GET", "/api/v1/jobs"), api("GET", "/api/v1/hosts")]);
    if (jobs.ok) {
      replaceRows(document.querySelector("#jobs tbody"), jobs.data.jobs.slice().reverse().map(jobRow), 11,
                  "no jobs in the spool");
    }
    if (hosts.ok) {
      replaceRows(document.querySelector("#hosts tbody"), hosts.data.hosts.map(hostRow), 8, "no host has registered");
    }
  }

  // ------------------------------------------------------------------ job page
  function chunkRow(c) {
    const runs = (Array.isArray(c.runs) ? c.runs : []).map((r) =>
      el("button", {type: "button", class: "log-link", "data-chunk": text(c.chunk), "data-run": text(r.run)},
         `${text(r.run)} on ${text(r.host)}`));
    return el("tr", {"data-chunk": text(c.chunk)}, el("td", {}, text(c.chunk)),
      el("td", {}, `${text(c.start)}-${text(c.end)}`), stateCell(c.state), el("td", {}, text(c.host)),
      el("td", {}, typeof c.seconds === "number" ? c.seconds.toFixed(1) : ""), el("td", {}, ...runs),
      el("td", {class: "reason"}, text(c.reason)));
  }
  function addThumbnails(j) {
    const strip = document.getElementById("thumbs");
    for (const c of Array.isArray(j.chunk_list) ? j.chunk_list : []) {
      if (c.state !== "done" || !Array.isArray(c.frames)) continue;
      for (const frame of c.frames) {
        if (typeof frame !== "number" || shownThumbs.has(frame) || shownThumbs.size >= 500) continue;
        shownThumbs.add(frame);
        const src = `/api/v1/jobs/${encodeURIComponent(jobId)}/frames/${frame}/thumbnail`;
        const img = el("img", {src, alt: `frame ${frame}`, title: `frame ${frame}`, loading: "lazy", class: "thumb"});
        const figure = el("figure", {"data-frame": frame}, img, el("figcaption", {}, String(frame)));
        img.addEventListener("error", () => {
          figure.replaceChildren(el("span", {class: "nothumb"}, `frame ${frame}: no thumbnail`));
        });
        strip.append(figure);
      }
    }
  }
  async function refreshJob() {
    const r = await api("GET", `/api/v1/jobs/${encodeURIComponent(jobId)}`);
    if (r.status === 404) { say(`job ${jobId} is gone from the spool`, true); return; }
    if (!r.ok) return;
    const j = r.data;
    const state = document.getElementById("job-state");
    state.textContent = text(j.state);
    state.className = "state state-" + text(j.state);
    document.getElementById("job-priority").textContent = text(j.priority);
    document.getElementById("job-eta").textContent = duration(j.eta);
    document.getElementById("job-progress").replaceChildren(...progress((j.frames || {}).done, (j.frames || {}).total));
    replaceRows(document.querySelector("#chunks tbody"), (j.chunk_list || []).map(chunkRow), 7, "no chunks");
    addThumbnails(j);
  }
  async function showLog(chunk, run) {
    const r = await api("GET", `/api/v1/jobs/${encodeURIComponent(jobId)}/chunks/${encodeURIComponent(chunk)}/log?run=${run}`);
    document.getElementById("log-title").textContent = `${chunk}, run ${run}`;
    document.getElementById("log").textContent = r.ok ? r.data.logs.map((l) => l.text).join("\n") : errorOf(r);
  }

  // ------------------------------------------------------------------ live
  const refresh = page === "job" ? refreshJob : page === "dashboard" ? refreshDashboard : async () => {};
  function scheduleRefresh(delay) {
    if (refreshTimer !== null) return;
    const wait = Math.max(delay, MIN_GAP - (Date.now() - lastRefresh));
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      lastRefresh = Date.now();
      refresh().catch(() => {});
    }, wait);
  }
  async function follow() {
    // fetch, not EventSource: it can send the token where reads need one
    const headers = token() ? {Authorization: "Bearer " + token()} : {};
    const url = "/api/v1/events" + (jobId ? "?job=" + encodeURIComponent(jobId) : "");
    const resp = await fetch(url, {headers, cache: "no-store"});
    if (!resp.ok || !resp.body) throw new Error(`events: HTTP ${resp.status}`);
    connected = true;
    banner(null);
    scheduleRefresh(0);
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (block.split("\n").some((line) => line.startsWith("data: "))) scheduleRefresh(250);
      }
    }
    throw new Error("events: the stream ended");
  }
  async function followForever() {
    for (;;) {
      try { await follow(); } catch (err) { connected = false; banner(LOST); }
      await new Promise((done) => setTimeout(done, 2000));
    }
  }
  setInterval(() => { if (connected) scheduleRefresh(0); }, 5000);  // loads, heartbeats, ETAs
  followForever();

  // ------------------------------------------------------------------ actions
  const DESTRUCTIVE = {cancel: "Cancel job %s? Its running chunks are stopped.",
                       remove: "Remove job %s and all its records and logs from the spool?"};
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) {
      const action = button.dataset.action;
      const job = button.dataset.job;
      if (DESTRUCTIVE[action] && !confirm(DESTRUCTIVE[action].replace("%s", job))) return;
      let r;
      const path = `/api/v1/jobs/${encodeURIComponent(job)}`;
      if (action === "priority") {
        const input = button.parentElement.querySelector("input.prio");
        if (!/^\d{1,3}$/.test(input.value.trim())) { say("give a priority from 0 to 999 first", true); return; }
        r = await api("PUT", path + "/priority", {priority: Number(input.value.trim())});
      } else if (action === "remove") {
        r = await api("DELETE", path);
      } else {
        r = await api("POST", `${path}/${action}`, {});
      }
      say(r.ok ? text(r.data.message) : errorOf(r) + (r.status === 401 ? " (paste it above, or open the URL of `render serve --print-url`)" : ""), !r.ok);
      scheduleRefresh(0);
      return;
    }
    const link = event.target.closest("button.log-link");
    if (link) showLog(link.dataset.chunk, link.dataset.run);
  });

  // ------------------------------------------------------------------ submit dialog
  const dialog = document.getElementById("submit-dialog");
  if (dialog) {
    const form = document.getElementById("submit-form");
    const kind = () => form.querySelector("input[name=kind]:checked").value;
    form.addEventListener("change", () => {
      form.querySelector(".blend-only").hidden = kind() !== "blend";
      form.querySelector(".command-only").hidden = kind() !== "command";
    });
    async function browse(path) {
      const r = await api("GET", "/api/v1/files" + (path ? "?path=" + encodeURIComponent(path) : ""));
      const list = document.getElementById("browser-list");
      document.getElementById("browser-path").textContent = r.ok ? text(r.data.path || "shared folders") : errorOf(r);
      if (!r.ok) return;
      const items = [];
      if (r.data.path) items.push(el("li", {class: "folder", "data-path": text(r.data.parent || "")}, ".."));
      for (const e of r.data.entries) items.push(el("li", {class: e.type, "data-path": text(e.path)}, text(e.name)));
      list.replaceChildren(...items);
    }
    document.getElementById("browser-list").addEventListener("click", (event) => {
      const item = event.target.closest("li");
      if (!item) return;
      if (item.classList.contains("blend")) document.getElementById("blend-path").value = item.dataset.path;
      else browse(item.dataset.path);
    });
    function request(dryRun) {
      const data = new FormData(form);
      const body = {dry_run: dryRun, chunk: Number(data.get("chunk")) || 10, priority: Number(data.get("priority")) || 0};
      if (text(data.get("frames")).trim()) body.frames = text(data.get("frames")).trim();
      if (text(data.get("name")).trim()) body.name = text(data.get("name")).trim();
      if (kind() === "blend") body.blend = text(data.get("blend")).trim();
      else body.argv = text(data.get("argv")).split("\n").map((s) => s.trim()).filter((s) => s);
      return body;
    }
    async function send(dryRun) {
      const r = await api("POST", "/api/v1/jobs", request(dryRun));
      const out = document.getElementById("submit-result");
      if (!r.ok) { out.textContent = errorOf(r); out.className = "result error"; return; }
      const warnings = Array.isArray(r.data.warnings) ? r.data.warnings.map((w) => "Warning: " + text(w)) : [];
      out.textContent = [text(r.data.job), text(r.data.message), ...warnings].join("\n");
      out.className = "result";
      scheduleRefresh(0);
    }
    document.getElementById("submit-open").addEventListener("click", () => { dialog.showModal(); browse(null); });
    document.getElementById("submit-close").addEventListener("click", () => dialog.close());
    document.getElementById("submit-check").addEventListener("click", () => send(true));
    document.getElementById("submit-queue").addEventListener("click", () => send(false));
  }
})();
