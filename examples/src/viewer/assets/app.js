// The viewer's page: four views over the JSON API, routed by the URL's hash, redrawn every few seconds while
// "live" is on. Everything received is untrusted text: the DOM is built with textContent, never innerHTML.
"use strict";

const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";
const state = { selected: null, timer: null, busy: false, again: false };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "onclick" || key === "onsubmit" || key === "onchange") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok && response.status !== 404) throw new Error(path + ": HTTP " + response.status);
  return response.status === 404 ? null : response.json();
}

const ms = (value) => (value >= 1000 ? (value / 1000).toFixed(2) + " s" : value >= 10 ? value.toFixed(0) + " ms" : value.toFixed(2) + " ms");
const pct = (value) => (value * 100).toFixed(1) + "%";
const time = (nanos) => new Date(nanos / 1e6).toLocaleTimeString();
const text = (value) => (typeof value === "string" ? value : JSON.stringify(value));

function route() {
  const hash = location.hash.replace(/^#/, "") || "/services";
  const [path, query] = hash.split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query || "") };
}

function setHash(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const target = "#" + path + (query.toString() ? "?" + query : "");
  if (location.hash === target) render(true);
  else location.hash = target;
}

// A line chart of one series in a small inline SVG.
function sparkline(label, values, format, color) {
  const width = 220, height = 48;
  const max = Math.max(...values, 0);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const y = (value) => height - 4 - (max > 0 ? (value / max) * (height - 8) : 0);
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${y(value).toFixed(1)}`).join(" ");
  chart.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 1.5 }));
  return el("div", { class: "chart" }, el("div", { class: "label" }, `${label} (max ${format(max)})`), chart);
}

async function renderServices(params) {
  const window = params.get("window") || "300";
  const all = params.get("all") === "1";
  const data = await api(`/api/services?window=${encodeURIComponent(window)}&all=${all}&buckets=30`);
  const windowSelect = el("select", { onchange: (e) => setHash("/services", { window: e.target.value, all: all ? "1" : "" }) },
    [["60", "last 1 min"], ["300", "last 5 min"], ["900", "last 15 min"], ["3600", "last 1 h"], ["21600", "last 6 h"], ["86400", "last 24 h"]]
      .map(([value, name]) => el("option", { value, selected: value === window }, name)));
  const allBox = el("input", { type: "checkbox", checked: all, onchange: (e) => setHash("/services", { window, all: e.target.checked ? "1" : "" }) });
  const parts = [el("form", { class: "filters" }, el("label", {}, "window", windowSelect), el("label", {}, "every span name", allBox))];
  if (!data.services.length) parts.push(el("p", { class: "muted" }, "No service yet: send OTLP to this viewer (gRPC :4317, HTTP :4318)."));
  for (const service of data.services) {
    const seconds = data.bucket_seconds;
    parts.push(el("section", { class: "service", "data-service": service.name },
      el("h2", {}, service.name, " ", el("span", { class: "muted" }, `${service.spans_stored} spans stored`)),
      el("div", {}, `${service.rate_per_second.toFixed(2)} req/s · errors ${pct(service.error_rate)} · p50 ${ms(service.p50_ms)} · p95 ${ms(service.p95_ms)} · p99 ${ms(service.p99_ms)}`),
      el("div", { class: "charts" },
        sparkline("requests/s", service.series.map((b) => b.requests / seconds), (v) => v.toFixed(2), "#2358c4"),
        sparkline("errors/s", service.series.map((b) => b.errors / seconds), (v) => v.toFixed(2), "#c62828"),
        sparkline("p99", service.series.map((b) => b.p99_ms), ms, "#8e44ad")),
      el("table", { class: "operations" },
        el("thead", {}, el("tr", {}, el("th", {}, all ? "span name" : "route"), ["req/s", "requests", "error rate", "p50", "p95", "p99"].map((h) => el("th", { class: "num" }, h)))),
        el("tbody", {}, service.operations.map((op) => el("tr", { "data-operation": op.name },
          el("td", {}, el("a", { href: "#/traces?" + new URLSearchParams({ service: service.name, name: op.name }) }, op.name)),
          el("td", { class: "num" }, op.rate_per_second.toFixed(2)),
          el("td", { class: "num" }, op.requests),
          el("td", { class: "num" + (op.errors ? " error" : "") }, pct(op.error_rate)),
          el("td", { class: "num" }, ms(op.p50_ms)),
          el("td", { class: "num" }, ms(op.p95_ms)),
          el("td", { class: "num" }, ms(op.p99_ms)))))),
      service.operations_not_shown ? el("p", { class: "muted" }, `${service.operations_not_shown} more, less busy, not shown`) : null));
  }
  if (data.services_not_shown) parts.push(el("p", { class: "muted", id: "services-not-shown" }, `${data.services_not_shown} more services, less busy, not shown`));
  return parts;
}

async function renderTraces(params) {
  const filters = ["service", "name", "errors", "min_ms", "attr", "trace_id"];
  const query = new URLSearchParams();
  for (const key of filters) if (params.get(key)) query.set(key, params.get(key));
  query.set("limit", "100");
  const traceId = (params.get("trace_id") || "").trim();
  if (/^[0-9a-fA-F]{32}$/.test(traceId)) {
    location.hash = "#/trace/" + traceId.toLowerCase();
    return [];
  }
  const [data, stats] = await Promise.all([api("/api/traces?" + query), api("/api/stats")]);
  const input = (name, label, attrs) => el("label", {}, label, el("input", { name, value: params.get(name) || "", ...attrs }));
  const form = el("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(event.target));
    values.errors = values.errors ? "true" : "";
    setHash("/traces", values);
  } },
    el("label", {}, "service", el("select", { name: "service" }, el("option", { value: "" }, "any"),
      [...new Set([...stats.services, params.get("service") || ""])].filter(Boolean)
        .map((name) => el("option", { value: name, selected: name === params.get("service") }, name)))),
    input("name", "span name", { placeholder: "GET /items/{item_id}" }),
    el("label", {}, "errors only", el("input", { type: "checkbox", name: "errors", checked: params.get("errors") === "true" })),
    input("min_ms", "min duration (ms)", { type: "number", min: "0", step: "any", size: 6 }),
    input("attr", "attribute key=value", { placeholder: "http.response.status_code=500" }),
    input("trace_id", "trace id / request_id", { size: 34 }),
    el("button", { type: "submit" }, "Search"));
  const max = Math.max(...data.traces.map((t) => t.duration_ms), 0.001);
  const rows = data.traces.map((t) => el("tr", { "data-trace-id": t.trace_id },
    el("td", {}, time(t.start_unix_nano)),
    el("td", {}, el("a", { href: "#/trace/" + t.trace_id }, `${t.root_service}: ${t.root_name}`)),
    el("td", { class: "num" }, ms(t.duration_ms)),
    el("td", {}, (() => { const bar = el("div", { class: "bar-inline" }); bar.style.width = Math.max(2, (t.duration_ms / max) * 160) + "px"; bar.style.height = "8px"; bar.style.background = "#9bb4e6"; return bar; })()),
    el("td", { class: "num" }, t.span_count),
    el("td", { class: "num" + (t.errors ? " error" : "") }, t.errors),
    el("td", {}, t.services.map((s) => el("span", { class: "tag" }, s))),
    el("td", { class: "muted" }, t.trace_id)));
  return [form,
    el("p", { class: "muted" }, `${data.matched} matching traces` + (data.matched > data.traces.length ? `, the latest ${data.traces.length} shown` : "")),
    el("table", { id: "traces" },
      el("thead", {}, el("tr", {}, ["start", "root", "duration", "", "spans", "errors", "services", "trace id"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows))];
}

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f"];
const color = (service, services) => COLORS[services.indexOf(service) % COLORS.length];

function keyValues(map) {
  const entries = Object.entries(map || {});
  if (!entries.length) return el("p", { class: "muted" }, "none");
  return el("table", {}, el("tbody", {}, entries.map(([key, value]) => el("tr", {}, el("th", {}, key), el("td", {}, text(value))))));
}

function spanPanel(span) {
  const events = span.events.map((event) => {
    const a = event.attributes;
    if (event.name === "exception") {
      return el("div", { class: "exception" },
        el("h3", { class: "error" }, "exception at +", ms(event.offset_ms)),
        el("div", {}, el("strong", {}, "type: "), text(a["exception.type"] ?? "")),
        el("div", {}, el("strong", {}, "message: "), text(a["exception.message"] ?? "")),
        a["exception.stacktrace"] ? el("pre", {}, text(a["exception.stacktrace"])) : null,
        (() => {
          const rest = Object.entries(a).filter(([k]) => !["exception.type", "exception.message", "exception.stacktrace"].includes(k));
          return rest.length ? keyValues(Object.fromEntries(rest)) : null;
        })());
    }
    return el("div", {}, el("h3", {}, event.name, " at +", ms(event.offset_ms)), keyValues(event.attributes));
  });
  return [
    el("h2", {}, span.name),
    el("div", {}, el("span", { class: "tag" }, span.service), el("span", { class: "tag" }, span.kind), ` ${ms(span.duration_ms)} at +${ms(span.offset_ms)}`),
    el("div", { class: span.status === "error" ? "error" : "" }, "status: ", span.status, span.status_message ? ` (${span.status_message})` : ""),
    el("div", { class: "muted" }, `span ${span.span_id}` + (span.parent_span_id ? ` · parent ${span.parent_span_id}` : "") + (span.missing_parent ? " (not received)" : "")),
    el("h3", {}, "Attributes", span.dropped_attributes ? ` (${span.dropped_attributes} dropped)` : ""), keyValues(span.attributes),
    el("h3", {}, "Events", span.dropped_events ? ` (${span.dropped_events} dropped)` : ""), events.length ? events : el("p", { class: "muted" }, "none"),
    el("h3", {}, "Links"), span.links.length ? span.links.map((l) => el("div", {}, el("a", { href: "#/trace/" + l.trace_id }, l.trace_id), " / ", l.span_id)) : el("p", { class: "muted" }, "none"),
    el("h3", {}, "Resource"), keyValues(span.resource),
    el("div", { class: "muted" }, "scope: ", span.scope),
  ].flat();
}

async function renderTrace(traceId, params) {
  const data = await api("/api/traces/" + encodeURIComponent(traceId));
  if (!data) return [el("p", { id: "missing" }, `Trace ${traceId} is not in the store (never received, or evicted).`)];
  // `#/trace/<id>?span=<span id>` opens on that span: a link to share.
  if (!state.selected && params.get("span")) state.selected = params.get("span");
  const total = Math.max(data.duration_ms, 0.001);
  if (!data.spans.some((s) => s.span_id === state.selected)) state.selected = (data.spans.find((s) => s.status === "error") || data.spans[0] || {}).span_id;
  const panel = el("aside", { class: "panel", id: "span-panel" });
  const rows = data.spans.map((span) => {
    const bar = el("div", { class: "bar" + (span.status === "error" ? " err" : "") });
    bar.style.left = (span.offset_ms / total) * 100 + "%";
    bar.style.width = (span.duration_ms / total) * 100 + "%";
    bar.style.background = color(span.service, data.services);
    // The duration sits after the bar, else before it, else inside it.
    const label = el("span", { class: "dur" }, ms(span.duration_ms));
    const [from, to] = [(span.offset_ms / total) * 100, ((span.offset_ms + span.duration_ms) / total) * 100];
    if (to < 80) label.style.left = `calc(${to}% + 4px)`;
    else if (from > 20) label.style.right = `calc(${100 - from}% + 4px)`;
    else { label.style.left = `calc(${from}% + 4px)`; label.classList.add("inside"); }
    const name = el("div", { class: "name", title: span.name }, span.name, " ", el("span", { class: "muted" }, span.service));
    name.style.paddingLeft = 6 + span.depth * 14 + "px";
    const row = el("div", { class: "row" + (span.span_id === state.selected ? " selected" : ""), "data-span-id": span.span_id, "data-depth": span.depth,
      onclick: () => { state.selected = span.span_id; for (const r of document.querySelectorAll(".row")) r.classList.toggle("selected", r === row); panel.replaceChildren(...spanPanel(span)); } },
      name, el("div", { class: "track" }, bar, label));
    return row;
  });
  const selected = data.spans.find((s) => s.span_id === state.selected);
  if (selected) panel.replaceChildren(...spanPanel(selected));
  const logs = data.logs.map((log) => el("tr", {},
    el("td", {}, "+" + ms(log.offset_ms)), el("td", { class: /ERROR|FATAL/.test(log.severity) ? "error" : "" }, log.severity),
    el("td", {}, log.service), el("td", {}, text(log.body)), el("td", { class: "muted" }, log.span_id || ""),
    el("td", {}, Object.entries(log.attributes).map(([k, v]) => el("span", { class: "tag" }, `${k}=${text(v)}`)))));
  return [
    el("h2", {}, `${data.root_service}: ${data.root_name}`, " ", el("span", { class: "muted" }, `${ms(data.duration_ms)} · ${data.spans.length} spans · ${data.errors} errors · trace ${data.trace_id}`)),
    el("div", { class: "trace" }, el("div", { class: "waterfall", id: "waterfall" }, rows), panel),
    el("h2", {}, `Logs of this trace (${data.logs.length})`),
    data.logs.length ? el("table", { id: "logs" }, el("thead", {}, el("tr", {}, ["time", "severity", "service", "body", "span", "attributes"].map((h) => el("th", {}, h)))), el("tbody", {}, logs))
      : el("p", { class: "muted" }, "No log record carries this trace id."),
  ];
}

function histogram(value) {
  const counts = value.counts || [];
  const max = Math.max(...counts, 1);
  const width = Math.max(counts.length * 8, 8), height = 24;
  const chart = svg("svg", { width, height, role: "img", "aria-label": "buckets" });
  counts.forEach((count, index) => {
    const h = (count / max) * height;
    const rect = svg("rect", { x: index * 8, y: height - h, width: 6, height: h, fill: "#4e79a7" });
    const title = svg("title", {});
    title.textContent = `≤ ${index < value.bounds.length ? value.bounds[index] : "+Inf"}: ${count}`;
    rect.append(title);
    chart.append(rect);
  });
  const mean = value.count ? (value.sum ?? 0) / value.count : 0;
  return el("span", { class: "hist" }, chart, ` count ${value.count} · sum ${(value.sum ?? 0).toPrecision(6)} · mean ${mean.toPrecision(4)}`,
    // Each is optional on the wire, apart from the other.
    value.min != null ? ` · min ${value.min.toPrecision(4)}` : "", value.max != null ? ` · max ${value.max.toPrecision(4)}` : "");
}

function metricValue(value) {
  switch (value.type) {
    case "gauge": return String(value.value);
    case "sum": return `${value.value} (${value.temporality}${value.monotonic ? ", monotonic" : ""})`;
    case "histogram": return histogram(value);
    case "exponential_histogram": return `count ${value.count} · sum ${value.sum} · scale ${value.scale}`;
    case "summary": return `count ${value.count} · sum ${value.sum} · ` + value.quantiles.map(([q, v]) => `q${q}=${v}`).join(" ");
    default: return JSON.stringify(value);
  }
}

async function renderMetrics() {
  const data = await api("/api/metrics");
  if (!data.length) return [el("p", { class: "muted" }, "No metric yet.")];
  return data.map((metric) => el("section", { class: "service", "data-metric": metric.name },
    el("h2", {}, metric.name, " ", el("span", { class: "muted" }, metric.unit ? `(${metric.unit}) ` : "", metric.description)),
    el("table", {}, el("thead", {}, el("tr", {}, ["service", "attributes", "latest", "at"].map((h) => el("th", {}, h)))),
      el("tbody", {}, metric.series.map((s) => el("tr", {},
        el("td", {}, s.service),
        el("td", {}, Object.entries(s.attributes).map(([k, v]) => el("span", { class: "tag" }, `${k}=${text(v)}`))),
        el("td", {}, metricValue(s.value)),
        el("td", { class: "muted" }, time(s.time_unix_nano))))))));
}

async function renderStats() {
  const s = await api("/api/stats");
  document.getElementById("stats").textContent =
    `${s.spans}/${s.max_spans} spans · ${s.traces} traces · ${s.logs} logs · evicted ${s.spans_evicted} spans (${s.traces_evicted} traces)` +
    (s.spans_rejected ? ` · rejected ${s.spans_rejected}` : "");
}

async function render(force) {
  // A navigation during a render runs once that render is done; a poll during one is skipped.
  if (state.busy) {
    state.again = state.again || force === true;
    return;
  }
  state.busy = true;
  const { parts, params } = route();
  for (const name of ["services", "traces", "metrics"]) document.getElementById("nav-" + name).classList.toggle("active", parts[0] === name || (name === "traces" && parts[0] === "trace"));
  try {
    let content;
    if (parts[0] === "trace" && parts[1]) content = await renderTrace(parts[1], params);
    else if (parts[0] === "traces") content = await renderTraces(params);
    else if (parts[0] === "metrics") content = await renderMetrics();
    else content = await renderServices(params);
    const view = document.getElementById("view");
    // A form being typed into is not redrawn under the user's fingers.
    const typing = view.contains(document.activeElement) && document.activeElement.form;
    if (force === true || !typing) view.replaceChildren(...content);
    await renderStats();
    document.body.dataset.rendered = String(Date.now());
  } catch (error) {
    document.getElementById("view").replaceChildren(el("p", { class: "error" }, String(error)));
  } finally {
    state.busy = false;
  }
  if (state.again) {
    state.again = false;
    await render(true);
  }
}

function schedule() {
  clearInterval(state.timer);
  if (document.getElementById("live").checked) state.timer = setInterval(render, POLL_MS);
}

window.addEventListener("hashchange", () => { state.selected = null; render(true); });
document.getElementById("live").addEventListener("change", schedule);
render(true);
schedule();
