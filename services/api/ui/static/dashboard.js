// Baseload plant dashboard. Reads the api's own JSON endpoints and its SSE stream with the session cookie, so every
// number here is the one the API serves; charts are uPlot (vendored). Times show in the plant's zone, UTC on hover.
(() => {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;
  const d = root.dataset;
  const cfg = {
    plant: d.plant, tz: d.tz, day: d.day, today: d.today, dayStart: d.dayStart, dayEnd: d.dayEnd,
    csrf: d.csrf, canAck: d.canAck === "true", staleAfterS: Number(d.staleAfter),
    nominalHz: Number(d.nominalHz), bandsMhz: d.bandsMhz.split(",").map(Number),
  };
  const isToday = cfg.day === cfg.today;
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue("--" + name).trim();
  const STATUS_LABEL = {
    compliant: "compliant", non_compliant: "non-compliant", insufficient_data: "insufficient data",
    excluded: "excluded", no_commitment: "no commitment", future: "not yet",
  };

  // ---- time -------------------------------------------------------------------------------------------------
  const fmt = (opts) => new Intl.DateTimeFormat("en-GB", { timeZone: cfg.tz, hour12: false, ...opts });
  const fmtHMS = fmt({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const fmtHM = fmt({ hour: "2-digit", minute: "2-digit" });
  const fmtDay = fmt({ weekday: "short", day: "numeric", month: "short", year: "numeric" });
  const fmtFull = fmt({ day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const utcText = (date) => date.toISOString().replace(".000Z", "Z").replace("T", " ").replace("Z", " UTC");

  function timeEl(iso, formatter = fmtHMS) {
    const date = new Date(iso);
    const el = document.createElement("span");
    el.className = "ts";
    el.textContent = formatter.format(date);
    el.title = utcText(date);
    return el;
  }

  function ageText(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
    return Math.round(seconds / 86400) + " d";
  }

  const num = (v, digits) => (v == null || Number.isNaN(v) ? "–" :
    Number(v).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const pct = (v) => (v == null ? "–" : (v * 100).toFixed(1) + " %");
  const severity = (q) => { const top = (q >>> 30) & 3; return top === 0 ? "good" : top === 1 ? "uncertain" : "bad"; };

  // ---- data -------------------------------------------------------------------------------------------------
  async function getJSON(url) {
    // no-cache: the browser revalidates with the server, which authorizes this session again before a 304.
    const r = await fetch(url, { cache: "no-cache", credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) { sessionEnded(); throw new Error("signed out"); }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || ("HTTP " + r.status));
    return body;
  }

  // No automatic redirect to the sign-in page: a 401 from one endpoint while the session is still valid would
  // bounce between the pages. Say so, and let the user sign in again.
  function sessionEnded() {
    if (document.getElementById("session-ended")) return;
    const bar = document.createElement("p");
    bar.id = "session-ended";
    bar.className = "error";
    bar.setAttribute("role", "alert");
    bar.append("Your session has ended (signed out, expired or the key was revoked). ");
    const a = document.createElement("a");
    a.href = "/ui/login";
    a.textContent = "Sign in again";
    bar.appendChild(a);
    root.prepend(bar);
  }

  function showError(container, err) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = "Could not load: " + err.message;
    container.replaceChildren(p);
  }

  const q = (params) => new URLSearchParams(params).toString();

  // ---- clock ------------------------------------------------------------------------------------------------
  const clock = document.getElementById("clock");
  function tick() {
    const now = new Date();
    clock.textContent = fmtHMS.format(now);
    clock.title = utcText(now);
  }
  tick();
  setInterval(tick, 1000);

  // ---- live values (overview) -------------------------------------------------------------------------------
  const values = { rows: new Map(), latest: new Map(), offsetMs: 0 };
  let signals = [];

  function renderSignalRows(list) {
    const body = document.getElementById("values-body");
    body.replaceChildren();
    for (const s of list) {
      const tr = document.createElement("tr");
      tr.dataset.signal = s.key;
      tr.innerHTML = '<td><span class="sig-key"></span><span class="sig-desc"></span></td>' +
        '<td class="num value">–</td><td class="unit"></td><td class="quality"></td><td class="num age">–</td>';
      tr.querySelector(".sig-key").textContent = s.key;
      tr.querySelector(".sig-desc").textContent = s.description || s.kind;
      tr.querySelector(".unit").textContent = s.unit;
      body.appendChild(tr);
      values.rows.set(s.key, { tr, unit: s.unit });
      if (s.latest) values.latest.set(s.key, s.latest);
    }
  }

  function digitsFor(unit) { return unit === "Hz" ? 3 : unit === "MW" ? 1 : 0; }

  function paintValues() {
    const now = Date.now() + values.offsetMs;
    for (const [key, row] of values.rows) {
      const latest = values.latest.get(key);
      const tr = row.tr;
      if (!latest) continue;
      const sev = severity(latest.quality);
      const age = (now - Date.parse(latest.ts)) / 1000;
      const stale = age > cfg.staleAfterS;
      tr.classList.toggle("is-stale", stale);
      tr.classList.toggle("is-bad", sev === "bad");
      tr.dataset.severity = sev;
      tr.dataset.stale = String(stale);
      const valueCell = tr.querySelector(".value");
      valueCell.textContent = num(latest.value, digitsFor(row.unit));
      valueCell.title = "reading at " + fmtFull.format(new Date(latest.ts)) + " (" + utcText(new Date(latest.ts)) + ")";
      const qualityCell = tr.querySelector(".quality");
      qualityCell.replaceChildren();
      const badge = document.createElement("span");
      badge.className = "badge badge-" + sev;
      badge.textContent = sev;
      badge.title = "OPC UA StatusCode 0x" + (latest.quality >>> 0).toString(16).toUpperCase().padStart(8, "0");
      qualityCell.appendChild(badge);
      if (stale) {
        const s = document.createElement("span");
        s.className = "badge badge-stale";
        s.textContent = "stale";
        s.title = "no reading for more than " + cfg.staleAfterS + " s";
        qualityCell.appendChild(s);
      }
      const ageCell = tr.querySelector(".age");
      ageCell.textContent = ageText(age);
      ageCell.title = utcText(new Date(latest.ts));
    }
  }

  function connectStream() {
    const status = document.getElementById("live-status");
    const source = new EventSource("/v1/plants/" + encodeURIComponent(cfg.plant) + "/stream");
    source.addEventListener("latest", (ev) => {
      const body = JSON.parse(ev.data);
      values.offsetMs = Date.parse(body.sent_at) - Date.now();
      for (const [key, latest] of Object.entries(body.signals)) values.latest.set(key, latest);
      paintValues();
      status.className = "pill pill-live";
      status.textContent = "live";
    });
    source.addEventListener("error", () => {
      status.className = "pill pill-down";
      status.textContent = source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…";
    });
  }

  // ---- charts -----------------------------------------------------------------------------------------------
  const charts = [];
  const chartWidth = (el) => Math.max(280, el.clientWidth);
  const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), cfg.tz);
  const xValue = (u, ts) => (ts == null ? "–" : fmtHMS.format(new Date(ts * 1000)) + " (" + utcText(new Date(ts * 1000)).slice(11) + ")");

  function makeChart(el, opts, data) {
    const existing = charts.find((c) => c.el === el);
    if (existing) { existing.u.destroy(); charts.splice(charts.indexOf(existing), 1); }
    el.replaceChildren();
    const u = new uPlot({ width: chartWidth(el), tzDate, ...opts }, data, el);
    charts.push({ el, u });
    return u;
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => charts.forEach(({ el, u }) => u.setSize({ width: chartWidth(el), height: u.height })), 100);
  });

  const timeAxis = () => axis(null, { values: (u, splits) => splits.map((v) => fmtHM.format(new Date(v * 1000))) });
  const axis = (label, extra = {}) => ({ label, stroke: colour("muted"), grid: { stroke: "#eef1f4" }, ticks: { stroke: "#e1e6ed" }, ...extra });

  // ---- settlement day ---------------------------------------------------------------------------------------
  function periodStatus(p, nowS) {
    return Date.parse(p.start) / 1000 > nowS ? "future" : p.status;
  }

  function renderKpis(totals) {
    document.getElementById("kpi-delivered").textContent = num(totals.delivered_mwh, 1) + " MWh";
    document.getElementById("kpi-committed").textContent = num(totals.committed_mwh, 1) + " MWh";
    document.getElementById("kpi-shortfall").textContent = num(totals.shortfall_mwh, 1) + " MWh";
    document.getElementById("kpi-availability").textContent = pct(totals.availability);
    const assessed = totals.compliant + totals.non_compliant;
    document.getElementById("kpi-compliant").textContent = totals.compliant + " / " + assessed;
  }

  function renderStrip(periods, nowS, links) {
    const strip = document.getElementById("period-strip");
    strip.replaceChildren();
    for (const p of periods) {
      const cell = document.createElement("div");
      const status = periodStatus(p, nowS);
      const key = Date.parse(p.start);
      const statement = links.statements.get(key), disputes = links.disputes.get(key) || [];
      cell.className = "period status-" + status + (disputes.some((x) => x.status === "open") ? " has-dispute" : "");
      cell.dataset.status = status;
      cell.dataset.start = p.start;
      const start = new Date(p.start), end = new Date(p.end);
      cell.title = fmtHM.format(start) + "–" + fmtHM.format(end) + " " + STATUS_LABEL[status] +
        (p.delivered_mw != null ? " · delivered " + num(p.delivered_mw, 1) + " MW" : "") +
        (p.committed_mw != null ? " · committed " + num(p.committed_mw, 0) + " ± " + num(p.tolerance_mw, 0) + " MW" : "") +
        (p.note ? " · " + p.note : "") +
        (statement ? " · statement revision " + statement.revision : "") +
        disputes.map((x) => " · dispute #" + x.id + " " + x.status).join("") +
        "\n" + utcText(start) + " – " + utcText(end);
      strip.appendChild(cell);
    }
  }

  function renderNetChart(net, periods, periodS) {
    const el = document.getElementById("net-chart");
    const xs = [], mw = [], lo = [], hi = [], committed = [];
    const byStart = new Map(periods.map((p) => [Date.parse(p.start) / 1000, p]));
    for (const b of net.buckets) {
      const t = Date.parse(b.start) / 1000;
      const p = byStart.get(t - (((t % periodS) + periodS) % periodS));
      xs.push(t);
      mw.push(b.avg ?? null);
      const c = p && p.committed_mw != null ? p.committed_mw : null;
      committed.push(c);
      lo.push(c == null ? null : c - p.tolerance_mw);
      hi.push(c == null ? null : c + p.tolerance_mw);
    }
    const band = "rgba(46, 125, 91, 0.12)";
    makeChart(el, {
      height: 240,
      series: [
        { value: xValue },
        { label: "Net output (1-min mean)", stroke: colour("accent"), width: 1.5, value: (u, v) => num(v, 1) + " MW" },
        { label: "Committed + tolerance", stroke: "rgba(46,125,91,0.6)", width: 1, dash: [4, 4], value: (u, v) => num(v, 0) + " MW" },
        { label: "Committed − tolerance", stroke: "rgba(46,125,91,0.6)", width: 1, dash: [4, 4], value: (u, v) => num(v, 0) + " MW" },
        { label: "Committed", stroke: colour("compliant"), width: 1.5, value: (u, v) => num(v, 0) + " MW" },
      ],
      bands: [{ series: [2, 3], fill: band }],
      scales: { x: { time: true, range: [Date.parse(cfg.dayStart) / 1000, Date.parse(cfg.dayEnd) / 1000] } },
      axes: [timeAxis(), axis("MW", { size: 60 })],
    }, [xs, mw, hi, lo, committed]);
  }

  function renderPeriodsChart(periods, nowS, periodS) {
    const el = document.getElementById("periods-chart");
    const xs = periods.map((p) => Date.parse(p.start) / 1000 + periodS / 2);
    const delivered = periods.map((p) => p.delivered_mw ?? null);
    const committed = periods.map((p) => p.committed_mw ?? null);
    const colours = periods.map((p) => colour(periodStatus(p, nowS)));
    makeChart(el, {
      height: 200,
      series: [
        { value: xValue },
        {
          label: "Delivered (period mean)", width: 0, fill: colour("compliant"),
          paths: uPlot.paths.bars({ size: [0.9, 100], align: 0, disp: { fill: { unit: 3, values: () => colours } } }),
          points: { show: false }, value: (u, v) => num(v, 1) + " MW",
        },
        { label: "Committed", stroke: "#12202f", width: 1.5, dash: [6, 3], paths: uPlot.paths.stepped({ align: 0 }), points: { show: false }, value: (u, v) => num(v, 0) + " MW" },
      ],
      scales: { x: { time: true, range: [Date.parse(cfg.dayStart) / 1000, Date.parse(cfg.dayEnd) / 1000] }, y: { range: (u, min, max) => [0, Math.max(max, 10) * 1.08] } },
      axes: [timeAxis(), axis("MW", { size: 60 })],
    }, [xs, delivered, committed]);
  }

  // Statement revisions and disputes per period (statements and disputes endpoints); optional: a failure leaves
  // the verdicts shown and says so.
  async function loadLinks() {
    const range = q({ start: cfg.dayStart, end: cfg.dayEnd });
    const base = "/v1/plants/" + encodeURIComponent(cfg.plant);
    const links = { statements: new Map(), disputes: new Map(), error: null };
    const [statements, disputes] = await Promise.allSettled([
      getJSON(base + "/statements?" + range + "&kind=period"), getJSON(base + "/disputes?" + range)]);
    if (statements.status === "fulfilled") {
      for (const st of statements.value.statements) links.statements.set(Date.parse(st.period_start), st);
    } else links.error = statements.reason;
    if (disputes.status === "fulfilled") {
      for (const dp of disputes.value.disputes) {
        const key = Date.parse(dp.period_start);
        links.disputes.set(key, [...(links.disputes.get(key) || []), dp]);
      }
    } else links.error = disputes.reason;
    return links;
  }

  function renderLinks(links) {
    const list = document.getElementById("period-links");
    list.replaceChildren();
    const base = "/v1/plants/" + encodeURIComponent(cfg.plant);
    const item = (text, href, label) => {
      const li = document.createElement("li");
      li.append(text + " ");
      const a = document.createElement("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = label;
      li.appendChild(a);
      list.appendChild(li);
      return li;
    };
    const span = (iso) => fmtHM.format(new Date(iso));
    for (const [, ds] of [...links.disputes.entries()].sort((a, b) => a[0] - b[0])) {
      for (const dp of ds) {
        const li = item("Dispute #" + dp.id + " (" + dp.status + ") on " + span(dp.period_start) + "–" + span(dp.period_end) + ":", base + "/disputes/" + dp.id, "details");
        li.className = "dispute dispute-" + dp.status;
        li.dataset.disputeId = String(dp.id);
      }
    }
    for (const [, st] of [...links.statements.entries()].sort((a, b) => a[0] - b[0])) {
      if (st.revision > 1) item("Period " + span(st.period_start) + " restated (revision " + st.revision + "):", base + "/statements/" + encodeURIComponent(st.period_start), "revisions");
    }
    const signed = document.getElementById("statements-count");
    signed.textContent = links.error ? "statements or disputes unavailable: " + links.error.message :
      links.statements.size ? links.statements.size + " period statements signed" : "no signed statements for this day yet";
  }

  async function loadDay() {
    const card = document.getElementById("day");
    document.getElementById("day-label").textContent = "· " + fmtDay.format(new Date(Date.parse(cfg.dayStart) + 12 * 3600e3));
    const net = signals.find((s) => s.kind === "net_output");
    try {
      const [compliance, links] = await Promise.all([
        getJSON("/v1/plants/" + encodeURIComponent(cfg.plant) + "/compliance?" + q({ start: cfg.dayStart, end: cfg.dayEnd })),
        loadLinks()]);
      const nowS = Date.now() / 1000;
      renderKpis(compliance.totals);
      renderStrip(compliance.periods, nowS, links);
      renderLinks(links);
      renderPeriodsChart(compliance.periods, nowS, compliance.settlement_period_s);
      if (net) {
        const agg = await getJSON("/v1/signals/" + encodeURIComponent(net.key) + "/aggregates?" +
          q({ start: cfg.dayStart, end: cfg.dayEnd, every: "1m", fn: "avg", fill: "null" }));
        renderNetChart(agg, compliance.periods, compliance.settlement_period_s);
      }
      card.dataset.loaded = "true";
    } catch (err) {
      showError(document.getElementById("net-chart"), err);
    }
  }

  function setDayLinks() {
    const shift = (days) => {
      const [y, m, dd] = cfg.day.split("-").map(Number);
      const t = new Date(Date.UTC(y, m - 1, dd + days));
      return t.toISOString().slice(0, 10);
    };
    const prev = document.getElementById("day-prev"), next = document.getElementById("day-next");
    prev.href = "?day=" + shift(-1);
    next.href = "?day=" + shift(1);
    if (shift(1) > cfg.today) { next.removeAttribute("href"); next.setAttribute("aria-disabled", "true"); next.classList.add("disabled"); }
  }

  // ---- frequency --------------------------------------------------------------------------------------------
  async function loadFrequency() {
    const freq = signals.find((s) => s.kind === "frequency");
    if (!freq) { document.getElementById("frequency").hidden = true; return; }
    const end = new Date(Math.floor(Date.now() / 1000) * 1000);
    const start = new Date(end.getTime() - 3600e3);
    const range = { start: start.toISOString(), end: end.toISOString() };
    try {
      const [report, agg] = await Promise.all([
        getJSON("/v1/plants/" + encodeURIComponent(cfg.plant) + "/frequency?" + q(range)),
        getJSON("/v1/signals/" + encodeURIComponent(freq.key) + "/aggregates?" + q({ ...range, every: "1s", fn: "avg", fill: "null" })),
      ]);
      renderFrequencyKpis(report);
      renderFrequencyChart(agg, report, start, end);
      renderExcursions(report);
      document.getElementById("frequency").dataset.loaded = "true";
    } catch (err) {
      showError(document.getElementById("freq-chart"), err);
    }
  }

  function renderFrequencyKpis(report) {
    const inside = new Map(report.bands.inside.map((b) => [Math.round(b.band_mhz), b.share]));
    document.getElementById("kpi-f50").textContent = pct(inside.get(50));
    document.getElementById("kpi-f200").textContent = pct(inside.get(200));
    document.getElementById("kpi-fminmax").textContent = report.min == null ? "–" : num(report.min, 3) + " / " + num(report.max, 3) + " Hz";
    document.getElementById("kpi-fexc").textContent = String(report.excursions.length) + (report.excursions_truncated ? "+" : "");
  }

  function renderFrequencyChart(agg, report, start, end) {
    const f0 = cfg.nominalHz, band = report.excursion_band_mhz / 1000;
    const xs = [], hz = [], beyond = [];
    for (const b of agg.buckets) {
      const v = b.avg ?? null;
      xs.push(Date.parse(b.start) / 1000);
      hz.push(v);
      beyond.push(v != null && Math.abs(v - f0) > band ? v : null);
    }
    const flat = (v) => xs.map(() => v);
    const [narrow, wide] = [Math.min(...cfg.bandsMhz) / 1000, Math.max(...cfg.bandsMhz) / 1000];
    const hzFmt = (u, v) => num(v, 3) + " Hz";
    makeChart(document.getElementById("freq-chart"), {
      height: 220,
      series: [
        { value: xValue },
        { label: "Frequency (1-s mean)", stroke: colour("accent"), width: 1, value: hzFmt },
        { label: "Beyond ±" + report.excursion_band_mhz + " mHz", stroke: colour("bad"), width: 2, value: hzFmt, spanGaps: false },
        { label: "+" + narrow * 1000 + " mHz", stroke: "rgba(46,125,91,0.55)", width: 1, dash: [3, 3], value: hzFmt },
        { label: "−" + narrow * 1000 + " mHz", stroke: "rgba(46,125,91,0.55)", width: 1, dash: [3, 3], value: hzFmt },
        { label: "+" + wide * 1000 + " mHz", stroke: "rgba(178,107,0,0.6)", width: 1, dash: [6, 3], value: hzFmt },
        { label: "−" + wide * 1000 + " mHz", stroke: "rgba(178,107,0,0.6)", width: 1, dash: [6, 3], value: hzFmt },
      ],
      bands: [{ series: [3, 4], fill: "rgba(46,125,91,0.10)" }, { series: [5, 6], fill: "rgba(178,107,0,0.05)" }],
      scales: {
        x: { time: true, range: [start.getTime() / 1000, end.getTime() / 1000] },
        y: { range: (u, min, max) => [Math.min(min ?? f0, f0 - wide) - 0.02, Math.max(max ?? f0, f0 + wide) + 0.02] },
      },
      axes: [timeAxis(), axis("Hz", { size: 64, values: (u, splits) => splits.map((v) => v.toFixed(2)) })],
    }, [xs, hz, beyond, flat(f0 + narrow), flat(f0 - narrow), flat(f0 + wide), flat(f0 - wide)]);
  }

  function renderExcursions(report) {
    const body = document.getElementById("excursions-body");
    body.replaceChildren();
    if (!report.excursions.length) {
      body.innerHTML = '<tr><td colspan="4" class="muted">No excursion beyond ±' + report.excursion_band_mhz + " mHz in the last hour.</td></tr>";
      return;
    }
    for (const e of report.excursions.slice(-20).reverse()) {
      const tr = document.createElement("tr");
      tr.className = "excursion";
      tr.innerHTML = '<td class="start"></td><td class="num"></td><td class="num"></td><td class="num"></td>';
      tr.children[0].appendChild(timeEl(e.start));
      tr.children[1].textContent = num(e.duration_s, 0) + " s";
      tr.children[2].textContent = num(e.extreme_hz, 3) + " Hz";
      tr.children[3].textContent = (e.extreme_deviation_mhz > 0 ? "+" : "") + num(e.extreme_deviation_mhz, 0) + " mHz";
      body.appendChild(tr);
    }
  }

  // ---- alerts -----------------------------------------------------------------------------------------------
  async function loadAlerts() {
    const list = document.getElementById("alerts-list");
    try {
      const body = await getJSON("/ui/plants/" + encodeURIComponent(cfg.plant) + "/alerts");
      renderAlerts(list, body.alerts);
    } catch (err) {
      showError(list, err);
    }
  }

  function evidenceList(evidence) {
    const dl = document.createElement("dl");
    dl.className = "evidence";
    for (const [k, v] of Object.entries(evidence || {})) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
      dl.append(dt, dd);
    }
    return dl;
  }

  function renderAlerts(list, alerts) {
    const firing = alerts.filter((a) => a.state === "firing").length;
    document.getElementById("alerts-count").textContent = firing ? firing + " firing" : "none firing";
    list.replaceChildren();
    if (!alerts.length) {
      list.innerHTML = '<li class="muted">No firing alerts, none resolved in the last day.</li>';
      return;
    }
    for (const a of alerts) {
      const li = document.createElement("li");
      li.className = "alert state-" + a.state;
      li.dataset.alertId = String(a.id);
      li.dataset.state = a.state;
      li.innerHTML = '<div class="alert-head"><span><span class="badge"></span><span class="alert-name"></span></span>' +
        '<span class="alert-actions"></span></div><div class="alert-meta"></div>';
      const badge = li.querySelector(".badge");
      badge.className = "badge badge-" + a.severity;
      badge.textContent = a.severity;
      li.querySelector(".alert-name").textContent = a.rule;
      const meta = li.querySelector(".alert-meta");
      const since = a.state === "resolved" ? a.resolved_at : a.firing_since || a.pending_since;
      meta.append(a.state + (since ? " since " : ""));
      if (since) meta.appendChild(timeEl(since, fmtFull));
      if (a.acked_by) {
        meta.append(" · acknowledged by " + a.acked_by + " ");
        if (a.acked_at) meta.appendChild(timeEl(a.acked_at, fmtFull));
      }
      const actions = li.querySelector(".alert-actions");
      if (cfg.canAck && a.state === "firing" && !a.acked_at) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "btn btn-ack";
        btn.textContent = "Acknowledge";
        btn.addEventListener("click", () => acknowledge(a.id, btn));
        actions.appendChild(btn);
      }
      li.appendChild(evidenceList(a.evidence));
      list.appendChild(li);
    }
  }

  async function acknowledge(id, btn) {
    btn.disabled = true;
    btn.textContent = "Acknowledging…";
    try {
      const r = await fetch("/ui/alerts/" + id + "/ack", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf }, body: "{}",
      });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || ("HTTP " + r.status));
      }
    } catch (err) {
      btn.textContent = "Failed: " + err.message;
      return;
    }
    await loadAlerts();
  }

  // ---- start ------------------------------------------------------------------------------------------------
  async function start() {
    setDayLinks();
    loadAlerts();
    try {
      const body = await getJSON("/v1/plants/" + encodeURIComponent(cfg.plant) + "/signals");
      signals = body.signals;
    } catch (err) {
      showError(document.getElementById("values-body"), err);
      return;
    }
    renderSignalRows(signals);
    paintValues();
    connectStream();
    setInterval(paintValues, 1000);
    await Promise.all([loadDay(), loadFrequency()]);
    setInterval(loadAlerts, 15000);
    setInterval(loadFrequency, 30000);
    if (isToday) setInterval(loadDay, 60000);
  }

  start();
})();
