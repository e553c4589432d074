// The status page: polls /_node/stats/pipelines (same origin, same auth)
// once a second and draws each pipeline as inputs → filters → outputs with
// events per second between two polls, a sparkline of each plugin's rate
// over the last minutes (rate_history, sampled by the server), the dead
// letter queue's size, the clients connected to inputs that serve them
// (the beats input's agents) and the last events each filter failed on (grok
// failures). No external script or font.
"use strict";
const prev = {}; // pipeline/kind/id → {t, n}
function rate(key, n, t) {
  const p = prev[key];
  prev[key] = { t: t, n: n };
  if (!p || t <= p.t) return 0;
  return Math.max(0, (n - p.n) / ((t - p.t) / 1000));
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(r) { return r >= 100 ? r.toFixed(0) : r.toFixed(1); }
const SVG = "http://www.w3.org/2000/svg";
// sparkline draws rates (oldest first) as a polyline 100 × 24.
function sparkline(rates, every) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", "0 0 100 24");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.dataset.points = String(rates.length);
  const top = Math.max(1, ...rates);
  const step = rates.length > 1 ? 100 / (rates.length - 1) : 0;
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", rates.map((r, i) => (i * step).toFixed(1) + "," + (23 - 22 * r / top).toFixed(1)).join(" "));
  svg.appendChild(line);
  const title = document.createElementNS(SVG, "title");
  title.textContent = "events/s every " + (every / 1000) + " s, last " + rates.length + " intervals; max " + fmt(top);
  svg.appendChild(title);
  return svg;
}
function pluginBox(pipeline, kind, p, t, every) {
  const ev = p.events || {};
  const n = kind === "input" ? (ev.out || 0) : (ev.in || 0);
  const r = rate(pipeline + "/" + kind + "/" + p.id, n, t);
  const box = el("div", "plugin " + kind);
  box.dataset.pluginId = p.id;
  box.dataset.rate = String(r);
  box.appendChild(el("div", "id", p.id));
  box.appendChild(el("div", "type", kind + " " + p.name));
  box.appendChild(el("div", "rate", fmt(r) + " events/s"));
  box.appendChild(sparkline(p.rate_history || [], every));
  if (p.agents) { // the beats input's connected agents
    const a = p.agents, c = el("div", "connections", a.connected_count + " connected");
    c.dataset.count = String(a.connected_count);
    c.title = (a.connected || []).map(x => x.remote_address + (x.tls_client_subject ? " (" + x.tls_client_subject + ")" : "") +
      ", " + x.events_received + " events, last seen " + new Date(x.last_seen).toLocaleTimeString()).join("\n");
    box.appendChild(c);
  }
  return box;
}
function stage(pipeline, kind, list, t, every) {
  const s = el("div", "stage " + kind + "s");
  (list || []).forEach(p => s.appendChild(pluginBox(pipeline, kind, p, t, every)));
  if (!list || list.length === 0) s.appendChild(el("div", "plugin none", "no " + kind + "s"));
  return s;
}
function render(stats) {
  const t = Date.now();
  const root = document.getElementById("pipelines");
  root.textContent = "";
  const names = Object.keys(stats.pipelines || {}).sort();
  if (names.length === 0) root.appendChild(el("p", "empty", "No pipeline is running."));
  names.forEach(name => {
    const p = stats.pipelines[name];
    const sec = el("section", "pipeline");
    sec.dataset.pipeline = name;
    const h = el("h2", "", name + " ");
    const health = (p.health && p.health.status) || "green";
    h.appendChild(el("span", "health-" + health, "● " + health));
    sec.appendChild(h);
    const g = el("div", "graph");
    const plugins = p.plugins || {};
    const every = p.rate_history_interval_millis || 5000;
    g.appendChild(stage(name, "input", plugins.inputs, t, every));
    g.appendChild(el("div", "arrow", "→"));
    g.appendChild(stage(name, "filter", plugins.filters, t, every));
    g.appendChild(el("div", "arrow", "→"));
    g.appendChild(stage(name, "output", plugins.outputs, t, every));
    sec.appendChild(g);
    const ev = p.events || {}, q = p.queue || {};
    const facts = el("div", "facts");
    const total = rate(name + "/pipeline", ev.in || 0, t);
    sec.dataset.rate = String(total);
    [["in", fmt(total) + " events/s"], ["out", String(ev.out || 0)], ["dropped", String(ev.dropped || 0)],
     ["unrouted", String(ev.unrouted || 0)], ["filter failed", String(ev.filter_failed || 0)],
     ["queue", (q.type || "memory") + ", " + (q.events_count || 0) + " events, oldest " + ((q.oldest_age_in_millis || 0) / 1000).toFixed(1) + " s", "queue"],
     ["reloads", String(((p.reloads || {}).successes) || 0)]].forEach(([k, v, cls]) => facts.appendChild(el("span", cls || "", k + ": " + v)));
    facts.querySelector(".queue").dataset.ageMillis = String(q.oldest_age_in_millis || 0);
    const dlq = p.dead_letter_queue;
    const d = el("span", "dlq", "dead letter queue: " + (dlq ? dlq.queue_size_in_bytes + " bytes" : "off"));
    d.dataset.bytes = dlq ? String(dlq.queue_size_in_bytes) : "";
    facts.appendChild(d);
    sec.appendChild(facts);
    const failing = (plugins.filters || []).filter(f => (f.failure_examples || []).length > 0);
    if (failing.length > 0) {
      const box = el("div", "failures");
      box.appendChild(el("h3", "", "Failure examples (last events each filter failed on)"));
      failing.forEach(f => f.failure_examples.forEach(x => {
        const ex = el("div", "failure-example");
        ex.dataset.pluginId = f.id;
        ex.dataset.tag = x.tag;
        ex.appendChild(el("div", "what", f.id + " (" + f.name + ") " + x.tag + " at " + new Date(x.time).toLocaleTimeString()));
        ex.appendChild(el("pre", "", JSON.stringify(x.event, null, 2)));
        box.appendChild(ex);
      }));
      sec.appendChild(box);
    }
    root.appendChild(sec);
  });
  document.getElementById("node").textContent = (stats.name || "") + " " + (stats.version || "");
  document.getElementById("updated").textContent = "updated " + new Date(t).toLocaleTimeString();
}
async function poll() {
  try {
    const r = await fetch("/_node/stats/pipelines", { cache: "no-store" });
    if (r.ok) render(await r.json());
  } catch (e) {
    document.getElementById("updated").textContent = "API unreachable: " + e;
  }
}
poll();
setInterval(poll, 1000);
