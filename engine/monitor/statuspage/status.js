// The status page: polls /_node/stats/pipelines (same origin, same auth)
// once a second and draws each pipeline as inputs → filters → outputs with
// events per second between two polls. No external script or font.
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
function pluginBox(pipeline, kind, p, t) {
  const ev = p.events || {};
  const n = kind === "input" ? (ev.out || 0) : (ev.in || 0);
  const r = rate(pipeline + "/" + kind + "/" + p.id, n, t);
  const box = el("div", "plugin " + kind);
  box.dataset.pluginId = p.id;
  box.dataset.rate = String(r);
  box.appendChild(el("div", "id", p.id));
  box.appendChild(el("div", "type", kind + " " + p.name));
  box.appendChild(el("div", "rate", fmt(r) + " events/s"));
  return box;
}
function stage(pipeline, kind, list, t) {
  const s = el("div", "stage " + kind + "s");
  (list || []).forEach(p => s.appendChild(pluginBox(pipeline, kind, p, t)));
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
    g.appendChild(stage(name, "input", plugins.inputs, t));
    g.appendChild(el("div", "arrow", "→"));
    g.appendChild(stage(name, "filter", plugins.filters, t));
    g.appendChild(el("div", "arrow", "→"));
    g.appendChild(stage(name, "output", plugins.outputs, t));
    sec.appendChild(g);
    const ev = p.events || {}, q = p.queue || {};
    const facts = el("div", "facts");
    const total = rate(name + "/pipeline", ev.in || 0, t);
    sec.dataset.rate = String(total);
    [["in", fmt(total) + " events/s"], ["out", String(ev.out || 0)], ["dropped", String(ev.dropped || 0)],
     ["unrouted", String(ev.unrouted || 0)], ["filter failed", String(ev.filter_failed || 0)],
     ["queue", (q.type || "memory") + ", " + (q.events_count || 0) + " events"],
     ["reloads", String(((p.reloads || {}).successes) || 0)]].forEach(([k, v]) => facts.appendChild(el("span", "", k + ": " + v)));
    sec.appendChild(facts);
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
