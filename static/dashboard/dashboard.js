// Instructor dashboard: charts (SVG), live progress, queue health, authoring preview and
// Validate. No inline scripts or handlers: everything is wired here (strict CSP).
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

// Words the script writes come from the page (data-t-* attributes set by the templates in
// the reader's language); `{name}` placeholders are filled here. English if one is missing.
function t(node, key, fallback, vars = {}) {
  const text = (node && node.dataset[key]) || fallback;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- charts

// A horizontal bar chart: one row per item, label left, bar, value right.
function barChart(container, items, valueKey, unit) {
  container.replaceChildren();
  if (!items.length) {
    container.append(el("p", { class: "muted" }, "No data yet."));
    return;
  }
  const rowH = 26, labelW = 170, barW = 260, valueW = 60;
  const width = labelW + barW + valueW, height = items.length * rowH + 4;
  const max = Math.max(1, ...items.map((d) => Number(d[valueKey]) || 0));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    class: "bar-chart", "aria-label": container.id.replace("chart-", "") + " chart" });
  items.forEach((d, i) => {
    const value = Number(d[valueKey]) || 0;
    const y = i * rowH + 2;
    const g = svg("g", { class: "bar-row" });
    const label = svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "bar-label" }, String(d.label));
    const bar = svg("rect", { x: labelW, y: y + 4, height: rowH - 8, width: Math.max(1, (value / max) * barW), rx: 3, class: "bar" });
    const title = svg("title", {}, `${d.label}: ${value}${unit || ""}`);
    bar.append(title);
    const text = svg("text", { x: labelW + (value / max) * barW + 6, y: y + rowH / 2 + 4, class: "bar-value" }, `${value}${unit || ""}`);
    g.append(label, bar, text);
    root.append(g);
  });
  container.append(root);
}

function drawCharts() {
  const data = document.getElementById("chart-data");
  if (!data) return;
  const charts = JSON.parse(data.textContent);
  for (const node of document.querySelectorAll("[data-chart]")) {
    barChart(node, charts[node.dataset.chart] || [], node.dataset.value || "value", node.dataset.unit || "");
  }
}

// ---------------------------------------------------------------- regrade progress

async function watchRegrade() {
  const box = document.getElementById("regrade-progress");
  if (!box || box.dataset.status === "done") return;
  const bar = box.querySelector("progress");
  const text = box.querySelector(".progress-text");
  for (;;) {
    await sleep(1000);
    let data;
    try { data = await getJSON(box.dataset.url); } catch (err) {
      text.textContent = t(box, "tRetrying", "({error}; retrying)", { error: err.message });
      continue;
    }
    bar.max = Math.max(1, data.total);
    bar.value = data.done + data.failed;
    const failed = data.failed ? ` ${t(box, "tFailed", "({n} failed)", { n: data.failed })}` : "";
    const status = t(box, data.status === "done" ? "tDone" : "tRunning", data.status);
    text.textContent = `${data.done + data.failed} / ${data.total}${failed} — ${status}`;
    if (data.status === "done") { window.location.reload(); return; }
  }
}

// ---------------------------------------------------------------- queue health

function fmt(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value);
}

async function watchQueues() {
  const box = document.getElementById("queue-health");
  if (!box) return;
  for (;;) {
    await sleep(5000);
    let data;
    try { data = await getJSON(box.dataset.url); } catch { continue; }
    box.querySelector("[data-field=redis]").textContent = data.redis;
    for (const [name, q] of Object.entries(data.queues)) {
      const row = box.querySelector(`tr[data-queue="${CSS.escape(name)}"]`);
      if (!row) continue;
      row.querySelector("[data-field=depth]").textContent = fmt(q.depth);
      row.querySelector("[data-field=workers]").textContent = fmt(q.workers);
    }
    box.querySelector("[data-field=graded]").textContent = fmt(data.last_hour.graded);
    box.querySelector("[data-field=median]").textContent = fmt(data.last_hour.median_seconds);
    box.querySelector("[data-field=p95]").textContent = fmt(data.last_hour.p95_seconds);
    box.querySelector("[data-field=queued]").textContent = fmt(data.db.queued);
    box.querySelector("[data-field=running]").textContent = fmt(data.db.running);
  }
}

async function queueSummary() {
  const box = document.getElementById("queue-summary");
  if (!box) return;
  try {
    const data = await getJSON(box.dataset.url);
    const parts = Object.entries(data.queues).map(([name, q]) =>
      t(box, "tQueue", "{name}: {depth} waiting, {workers} worker(s)",
        { name, depth: fmt(q.depth), workers: fmt(q.workers) }));
    parts.push(t(box, "tMedian", "median time to verdict (1 h): {seconds} s",
                 { seconds: fmt(data.last_hour.median_seconds) }));
    box.append(el("p", { class: "queue-line" }, parts.join(" · ")));
  } catch (err) {
    box.append(el("p", { class: "error" },
                  t(box, "tUnavailable", "Queue status unavailable ({error}).", { error: err.message })));
  }
}

// ---------------------------------------------------------------- authoring

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

async function post(url, form, json = true) {
  const response = await fetch(url, {
    method: "POST", body: new FormData(form), credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: json ? "application/json" : "text/html" },
  });
  let data = {};
  try { data = await response.json(); } catch { data = { error: response.statusText }; }
  return { ok: response.ok, status: response.status, data };
}

function setupPreview(form) {
  const target = document.getElementById("preview");
  if (!target || !form.dataset.previewUrl) return;
  const refresh = async () => {
    const { ok, data } = await post(form.dataset.previewUrl, form);
    // The fragment is rendered by the server's templates (escaped); prompts are the
    // instructor's own Markdown, rendered exactly as the lesson page renders them.
    if (ok) target.innerHTML = data.html;
  };
  form.addEventListener("input", debounce(refresh, 400));
  refresh();
}

function showProblems(body, title, problems) {
  body.replaceChildren(el("p", { class: "outcome failed" }, title));
  const list = el("ul", { class: "problems-list" });
  for (const p of problems || []) list.append(el("li", {}, p));
  body.append(list);
}

async function pollValidation(url) {
  const body = document.getElementById("validation-body");
  const box = document.getElementById("validation");
  box.dataset.url = url;
  for (;;) {
    let data;
    try { data = await getJSON(url); } catch (err) { await sleep(1500); continue; }
    body.innerHTML = data.html;  // server-rendered, escaped template fragment
    box.dataset.status = data.status;
    if (data.status === "done") {
      const publish = document.getElementById("publish-button");
      const note = document.getElementById("publish-note");
      if (publish) publish.disabled = !data.can_publish;
      if (note) note.textContent = data.can_publish
        ? t(note, "tPassed", "This draft passed validation.")
        : t(note, "tNeeded", "Publishing needs a saved draft that passed validation.");
      return data;
    }
    await sleep(1000);
  }
}

function setupValidate(form) {
  const button = document.getElementById("validate-button");
  if (!button) return;
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = document.getElementById("validation-body");
    const publish = document.getElementById("publish-button");
    if (publish) publish.disabled = true;
    button.disabled = true;
    body.replaceChildren(el("p", { class: "status" },
      t(button, "tSaving", "Saving the draft and queueing the checks…")));
    try {
      const { ok, data } = await post(button.getAttribute("formaction"), form);
      if (!ok) {
        showProblems(body, data.error || t(button, "tFailedToValidate", "Could not validate."),
                     data.problems);
        return;
      }
      await pollValidation(data.url);
    } finally {
      button.disabled = false;
    }
  });
  const box = document.getElementById("validation");
  if (box && box.dataset.url && box.dataset.status !== "done") pollValidation(box.dataset.url);
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  watchRegrade();
  watchQueues();
  queueSummary();
  const form = document.getElementById("exercise-form");
  if (form) { setupPreview(form); setupValidate(form); }
});
