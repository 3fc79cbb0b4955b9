// Exercise cells: submit code to the API, poll for the verdict, show it. No page reload.
"use strict";

const OUTCOME_TEXT = {
  passed: "Passed", failed: "Failed", error: "Error", timeout: "Time limit",
  memory_limit: "Memory limit", output_limit: "Output limit", rejected: "Rejected",
  queue_unavailable: "No worker available", internal_error: "Internal error",
};

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function renderVerdict(panel, verdict) {
  panel.replaceChildren();
  const outcome = verdict.outcome;
  const head = el("p", { class: `outcome ${outcome}` },
    `${OUTCOME_TEXT[outcome] || outcome} — ${verdict.score ?? 0} / ${verdict.max_score ?? 0}`);
  panel.append(head);
  if (verdict.error && verdict.error.message) {
    panel.append(el("pre", { class: "error-message" }, verdict.error.message));
  }
  const checks = el("ul", { class: "checks" });
  for (const check of verdict.checks || []) {
    const li = el("li", { class: check.passed ? "ok" : "bad" });
    li.append(el("span", { class: "mark" }, check.passed ? "✓" : "✗"), " ",
      el("code", {}, check.name), " ");
    if (check.message) li.append(el("span", { class: "message" }, check.message));
    checks.append(li);
  }
  if (checks.children.length) panel.append(checks);
  if (verdict.stdout) {
    panel.append(el("h3", {}, "Output"), el("pre", { class: "stdout" }, verdict.stdout));
  }
}

async function poll(url, status) {
  let delay = 100;
  for (;;) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    if (data.status === "graded") return data;
    status.textContent = data.status === "running" ? "Running…" : "Queued…";
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 1000);
  }
}

function setup(section) {
  const form = section.querySelector("form.cell");
  const textarea = form.querySelector("textarea");
  const button = form.querySelector("button[type=submit]");
  const status = form.querySelector(".status");
  const panel = section.querySelector(".feedback");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      const response = await fetch(section.dataset.submitUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ code: textarea.value, kind: "submit" }),
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      const verdict = data.status === "graded" ? data : await poll(data.url, status);
      status.textContent = "";
      renderVerdict(panel, verdict);
    } catch (error) {
      status.textContent = "";
      panel.replaceChildren(el("p", { class: "outcome error" }, `Could not submit: ${error.message}`));
    } finally {
      button.disabled = false;
    }
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

document.querySelectorAll("section.exercise").forEach(setup);
