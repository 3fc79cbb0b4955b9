// The feedback component: one verdict JSON (docs/contract.md) drawn as the student sees it —
// outcome and score, the outcome note, the error with its line and friendly message, each
// check with its message (`code` spans), Expected / Your value, the Run view's values and
// the output. The lesson page (lesson.js) and the dashboard's submission page use this same
// code, so a teacher sees exactly what the student saw, in the teacher's language.
// Plain JS (no build step). Everything from a verdict is hostile data: it is only ever
// written with text nodes, never parsed as HTML.
"use strict";

(function (global) {
  // el("p", {class: "x"}, "text", childNode…): strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Text with Markdown `code` spans, shown without parsing any HTML.
  function inlineCode(text) {
    const span = el("span", {});
    String(text).split(/`([^`]+)`/).forEach((part, i) => {
      if (part) span.append(i % 2 ? el("code", {}, part) : document.createTextNode(part));
    });
    return span;
  }

  function inLanguage(messages, fallback, lang) {
    if (messages && typeof messages === "object") {
      return messages[lang] || messages.en || fallback || "";
    }
    return fallback || "";
  }

  function formatNumber(x) {
    if (x === null || x === undefined) return "0";
    return String(Math.round(Number(x) * 100) / 100);
  }

  // t(key, {name: value}) over a dict of UI strings with %(name)s placeholders.
  function translator(ui) {
    const strings = ui || {};
    const t = (key, params) => {
      let text = strings[key] || key;
      for (const [name, value] of Object.entries(params || {})) {
        text = text.split(`%(${name})s`).join(String(value));
      }
      return text;
    };
    t.has = (key) => Object.prototype.hasOwnProperty.call(strings, key);
    return t;
  }

  function formatValue(value, t) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (typeof value === "object") {
      const text = value.repr ?? value.text ?? value.value ?? value.preview;
      const facts = [];
      if (value.shape) facts.push(`${t("shape")} ${Array.isArray(value.shape) ? `(${value.shape.join(", ")})` : value.shape}`);
      if (value.dtype) facts.push(`${t("dtype")} ${value.dtype}`);
      if (text !== undefined) return facts.length ? `${text}\n${facts.join(", ")}` : String(text);
      return JSON.stringify(value, null, 2);
    }
    return String(value);
  }

  // The Run view's values: a list of {name, …} or a {name: value} mapping.
  function valuesOf(verdict) {
    const values = verdict.values || verdict.names || null;
    if (!values || typeof values !== "object") return [];
    if (Array.isArray(values)) return values.map((v) => [v && v.name, v]);
    return Object.entries(values);
  }

  // The verdict as a list of nodes. options: {ui, lang, kind, onLine(lineNumber)}; onLine is
  // told each line the verdict points at (the lesson page marks it in the editor).
  function render(verdict, options) {
    const opts = options || {};
    const t = translator(opts.ui);
    const lang = opts.lang || "en";
    const onLine = typeof opts.onLine === "function" ? opts.onLine : () => {};
    const parts = [];
    const isRun = (verdict.kind || opts.kind) === "run";
    const outcome = verdict.outcome || "";
    if (isRun) {
      parts.push(el("p", { class: "run-title" }, t("run_result")));
      if (outcome && !["passed", "ok", "ran", "failed"].includes(outcome)) {
        parts.push(el("p", { class: `outcome ${outcome}`, "data-outcome": outcome }, t(outcome)));
      }
    } else {
      parts.push(el("p", { class: `outcome ${outcome}`, "data-outcome": outcome },
        el("span", { class: "outcome-word" }, t.has(outcome) ? t(outcome) : outcome), " ",
        el("span", { class: "score" },
          `${t("score")}: ${formatNumber(verdict.score)} / ${formatNumber(verdict.max_score)}`)));
    }
    const note = inLanguage(verdict.message, "", lang);
    if (note) parts.push(el("p", { class: "verdict-note" }, inlineCode(note)));
    const error = verdict.error && typeof verdict.error === "object" ? verdict.error : null;
    if (error) {
      const box = el("div", { class: "error-box" });
      const message = String(inLanguage(error.messages, error.message, lang) || "");
      const head = el("p", { class: "error-head" });
      if (error.line && !/\d/.test(message.split("\n")[0])) {
        head.append(el("span", { class: "error-line" }, t("line", { line: error.line })), " ");
      }
      if (error.type && error.type !== outcome) head.append(el("span", { class: "error-type" }, error.type), " ");
      if (error.diagnostic) head.append(el("code", { class: "diagnostic" }, error.diagnostic));
      if (head.childNodes.length) box.append(head);
      box.append(el("div", { class: "error-message" }, inlineCode(message)));
      if (error.traceback && String(error.traceback).trim() !== String(error.message || "").trim()) {
        box.append(el("details", { class: "traceback" },
          el("summary", {}, t("traceback")), el("pre", {}, String(error.traceback))));
      }
      parts.push(box);
      if (error.line) onLine(Number(error.line));
    } else if (typeof verdict.error === "string" && verdict.error) {
      parts.push(el("div", { class: "error-box" }, el("div", { class: "error-message" }, verdict.error)));
    }
    const checks = Array.isArray(verdict.checks) ? verdict.checks : [];
    if (checks.length) {
      const list = el("ul", { class: "checks", "aria-label": t("checks") });
      for (const check of checks) {
        if (!check || typeof check !== "object") continue;
        const ok = Boolean(check.passed);
        const li = el("li", { class: ok ? "ok" : "bad" },
          el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"),
          el("span", { class: "sr-only" }, ok ? t("passed") : t("failed")), " ",
          el("code", { class: "check-name" }, check.label || check.name || ""));
        if (check.hidden) li.append(" ", el("span", { class: "hidden-check" }, t("hidden_check")));
        if (check.max_points) li.append(" ", el("span", { class: "points" }, `${formatNumber(check.points)} / ${formatNumber(check.max_points)}`));
        // The score rule: a run that did not reach the end counts no check (docs/grading.md).
        if (check.counted === false) li.append(" ", el("span", { class: "not-counted" }, t("not_counted")));
        const message = inLanguage(check.messages, check.message, lang);
        if (message) li.append(el("div", { class: "message" }, inlineCode(message)));
        if (check.diagnostic && !ok) li.append(el("code", { class: "diagnostic" }, check.diagnostic));
        if (!ok && (check.expected != null || check.actual != null)) {
          // Assert checks carry only `actual`; show just the sides the grader gave.
          const sides = [["expected", check.expected], ["actual", check.actual]]
            .filter(([, value]) => value != null)
            .map(([key, value]) => el("div", {}, el("p", { class: "compare-title" }, t(key)), el("pre", {}, formatValue(value, t))));
          li.append(el("div", { class: "compare" }, ...sides));
        }
        if (check.line) onLine(Number(check.line));
        list.append(li);
      }
      parts.push(list);
    }
    const values = valuesOf(verdict);
    if (values.length) {
      const table = el("dl", { class: "values", "aria-label": t("values") });
      for (const [name, value] of values) {
        table.append(el("dt", {}, el("code", {}, name)), el("dd", {}, el("pre", {}, formatValue(value, t))));
      }
      parts.push(el("p", { class: "section-title" }, t("values")), table);
    }
    if (verdict.stdout || isRun) {
      parts.push(el("p", { class: "section-title" }, t("output")),
        el("pre", { class: "stdout" }, verdict.stdout || t("no_output")));
      if (verdict.output_truncated) parts.push(el("p", { class: "note" }, t("output_cut")));
    }
    return parts;
  }

  function readJson(id) {
    const node = id ? document.getElementById(id) : null;
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (_) { return null; }
  }

  // A server-rendered page (the dashboard's submission page) names its verdict and its UI
  // strings in json_script elements: <div data-verdict-source="id" data-ui-source="id"
  // data-lang="en" data-lines-in="id-of-code-block">. The lines the verdict points at are
  // marked in that code block.
  function mount(node) {
    const verdict = readJson(node.dataset.verdictSource);
    if (!verdict) return;
    const code = node.dataset.linesIn ? document.getElementById(node.dataset.linesIn) : null;
    const onLine = (n) => {
      const line = code && code.querySelector(`[data-line="${Number(n)}"]`);
      if (line) line.classList.add("error-line");
    };
    node.replaceChildren(...render(verdict, {
      ui: readJson(node.dataset.uiSource), lang: node.dataset.lang || "en", onLine,
    }));
    node.dataset.rendered = "true";
  }

  global.Feedback = { el, inlineCode, inLanguage, formatNumber, formatValue, translator, render, mount };
  // Scripts load with `defer`: the document is parsed by now.
  document.querySelectorAll("[data-verdict-source]").forEach(mount);
})(window);
