// The lesson page: one CodeMirror editor per exercise cell, Run and Submit with live status,
// the verdict explained, hints one at a time, autosaved drafts and the attempt history.
// Plain JS (no build step); the editor and KaTeX come from static/vendor/lessonkit.js.
// Student code and output are only ever written with textContent, never as HTML.
"use strict";

(function () {
  const uiNode = document.getElementById("lesson-ui");
  const article = document.querySelector("article.lesson");
  if (!uiNode || !article) return;
  const UI = JSON.parse(uiNode.textContent);
  const LANG = article.dataset.pageLang || "en";
  const USER = article.dataset.user || "anon";
  const KIT = window.LessonKit || null;
  const POLL_GIVE_UP_MS = 5 * 60 * 1000;

  function t(key, params) {
    let text = UI[key] || key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.split(`%(${name})s`).join(String(value));
    }
    return text;
  }

  // The page's own form token first: it works even if the CSRF cookie is made HttpOnly.
  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    if (input && input.value) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

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

  // Instructor text with `code` spans, shown without parsing any HTML.
  function inlineCode(text) {
    const span = el("span", {});
    String(text).split(/`([^`]+)`/).forEach((part, i) => {
      if (part) span.append(i % 2 ? el("code", {}, part) : document.createTextNode(part));
    });
    return span;
  }

  function inLanguage(messages, fallback) {
    if (messages && typeof messages === "object") {
      return messages[LANG] || messages.en || fallback || "";
    }
    return fallback || "";
  }

  function formatNumber(x) {
    if (x === null || x === undefined) return "0";
    return String(Math.round(Number(x) * 100) / 100);
  }

  const timeFormat = new Intl.DateTimeFormat(LANG === "zh-hans" ? "zh-Hans" : "en", {
    dateStyle: "medium", timeStyle: "medium",
  });

  function formatValue(value) {
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

  async function api(url, options) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
    if (init.body !== undefined) {
      init.headers = { ...init.headers, "Content-Type": "application/json", "X-CSRFToken": csrfToken() };
    }
    const response = await fetch(url, init);
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON: keep the status text */ }
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A textarea that quacks like the editor, for when the bundle did not load.
  function textareaEditor(textarea, handlers) {
    textarea.addEventListener("input", () => handlers.onChange(textarea.value));
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        handlers.onSubmit();
      } else if (event.key === "Enter" && event.shiftKey) {
        event.preventDefault();
        handlers.onRun();
      }
    });
    return {
      getText: () => textarea.value,
      setText: (text) => { textarea.value = text; handlers.onChange(text); },
      setErrorLine: () => {},
      focus: () => textarea.focus(),
    };
  }

  class Cell {
    constructor(section) {
      this.section = section;
      this.slug = section.dataset.slug;
      this.role = (name) => section.querySelector(`[data-role="${name}"]`);
      const stateNode = document.getElementById(`cell-${this.slug}`);
      this.state = stateNode ? JSON.parse(stateNode.textContent) : { attempts: [], hints: [], hint_count: 0 };
      this.attempts = this.state.attempts || [];
      this.form = section.querySelector("form.cell");
      this.textarea = this.form.querySelector("textarea");
      this.runButton = this.form.querySelector('[data-kind="run"]');
      this.submitButton = this.form.querySelector('[data-kind="submit"]');
      this.status = this.role("status");
      this.saveState = this.role("save-state");
      this.feedback = this.role("feedback");
      this.busy = false;
      this.saveTimer = null;
      this.saving = null;
      this.localKey = `lessonpage:draft:${USER}:${this.slug}`;

      const initial = this.initialText();
      const handlers = {
        onChange: (text) => this.changed(text),
        onSubmit: () => this.send("submit"),
        onRun: () => this.send("run"),
      };
      if (KIT) {
        this.textarea.value = initial;
        this.editor = KIT.createEditor(this.role("editor"), {
          doc: initial, label: `Code for ${this.slug}`, ...handlers,
        });
        // The editor carries the label now; the textarea stays only as the no-JS fallback.
        this.textarea.hidden = true;
        this.textarea.removeAttribute("aria-label");
        this.textarea.removeAttribute("id");
        const label = this.form.querySelector("label.sr-only");
        if (label) label.remove();
      } else {
        this.textarea.value = initial;
        this.editor = textareaEditor(this.textarea, handlers);
      }
      this.form.addEventListener("submit", (event) => { event.preventDefault(); this.send("submit"); });
      this.runButton.addEventListener("click", () => this.send("run"));
      this.setupHints();
      this.renderHistory();
      if (this.pendingPush) this.scheduleSave(0);
    }

    // --- drafts: localStorage at once, the server a moment later ------------------------
    readLocal() {
      try { return JSON.parse(localStorage.getItem(this.localKey) || "null"); } catch (_) { return null; }
    }

    writeLocal(code, dirty) {
      try { localStorage.setItem(this.localKey, JSON.stringify({ code, dirty, t: Date.now() })); } catch (_) { /* private mode or full */ }
    }

    initialText() {
      const server = this.textarea.value;
      const local = this.readLocal();
      // Text the server never confirmed (a crash, a lost connection) wins over the server copy.
      if (local && local.dirty && typeof local.code === "string" && local.code !== server) {
        this.pendingPush = true;
        return local.code;
      }
      return server;
    }

    changed(text) {
      this.writeLocal(text, true);
      this.saveState.textContent = "";
      this.scheduleSave(800);
    }

    scheduleSave(delay) {
      clearTimeout(this.saveTimer);
      this.saveTimer = setTimeout(() => this.saveDraft(), delay);
    }

    async saveDraft(keepalive) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      const code = this.editor.getText();
      try {
        await api(this.section.dataset.draftUrl, {
          method: "PUT", body: JSON.stringify({ code }), keepalive: Boolean(keepalive),
        });
        const local = this.readLocal();
        if (!local || local.code === code) this.writeLocal(code, false);
        this.saveState.textContent = t("saved");
        this.saveState.classList.remove("unsaved");
      } catch (_) {
        this.saveState.textContent = t("saved_locally");
        this.saveState.classList.add("unsaved");
        this.scheduleSave(5000);
      }
    }

    flush() {
      if (this.saveTimer !== null) this.saveDraft(true);
    }

    // --- Run and Submit -------------------------------------------------------------------
    setBusy(busy) {
      this.busy = busy;
      this.runButton.disabled = busy;
      this.submitButton.disabled = busy;
      this.section.setAttribute("aria-busy", busy ? "true" : "false");
    }

    async send(kind) {
      if (this.busy) return;
      this.setBusy(true);
      this.editor.setErrorLine(null);
      this.status.textContent = t("sending");
      const code = this.editor.getText();
      let attempt = null;
      try {
        const created = await api(this.section.dataset.submitUrl, {
          method: "POST", body: JSON.stringify({ code, kind }),
        });
        if (kind === "submit") {
          attempt = { id: created.id, status: created.status, outcome: "", score: null,
            max_score: created.max_score ?? null, created_at: created.created_at || new Date().toISOString(), code };
          this.attempts.unshift(attempt);
          this.renderHistory();
        }
        const verdict = created.status === "graded" ? created : await this.poll(created.url);
        this.status.textContent = "";
        this.render(verdict, kind);
        if (attempt) {
          Object.assign(attempt, { status: "graded", outcome: verdict.outcome, score: verdict.score,
            max_score: verdict.max_score });
          this.renderHistory();
        }
        if (kind === "submit" && verdict.outcome === "passed") this.markPassed();
      } catch (error) {
        this.status.textContent = "";
        this.feedback.replaceChildren(
          el("p", { class: "outcome error" }, t("could_not_send", { message: error.message })));
        this.countVerdict();
      } finally {
        this.setBusy(false);
      }
    }

    async poll(url) {
      // Long poll: the server answers at once when the verdict is stored, else after `wait`
      // seconds with the current status (queued / running), which the status line shows.
      const started = Date.now();
      const join = url.includes("?") ? "&" : "?";
      for (;;) {
        const data = await api(`${url}${join}wait=2`);
        if (data.status === "graded") return data;
        if (data.status === "running") {
          this.status.textContent = t("running");
        } else {
          const position = data.queue_position ?? await this.queuePosition(data.id);
          this.status.textContent = position
            ? t("queued_position", { position }) : t("queued");
        }
        if (Date.now() - started > POLL_GIVE_UP_MS) throw new Error(t("queued"));
        await sleep(100);
      }
    }

    async queuePosition(id) {
      try {
        // data-position-url is the URL for submission 0: put this id in its place.
        const url = article.dataset.positionUrl.replace(/0(\/position)$/, `${Number(id)}$1`);
        return (await api(url)).position;
      } catch (_) {
        return null; // the position is a nicety; "Queued…" alone is fine
      }
    }

    markPassed() {
      const badge = this.role("passed-badge");
      if (badge) badge.hidden = false;
      const mark = document.querySelector(`[data-toc-for="exercise-${this.slug}"]`);
      if (mark) { mark.textContent = "✓"; mark.classList.add("passed"); }
    }

    // --- the verdict ----------------------------------------------------------------------
    render(verdict, kind) {
      const panel = this.feedback;
      const parts = [];
      const isRun = (verdict.kind || kind) === "run";
      const outcome = verdict.outcome || "";
      if (isRun) {
        parts.push(el("p", { class: "run-title" }, t("run_result")));
        if (outcome && !["passed", "ok", "ran", "failed"].includes(outcome)) {
          parts.push(el("p", { class: `outcome ${outcome}`, "data-outcome": outcome }, t(outcome)));
        }
      } else {
        parts.push(el("p", { class: `outcome ${outcome}`, "data-outcome": outcome },
          el("span", { class: "outcome-word" }, UI[outcome] ? t(outcome) : outcome), " ",
          el("span", { class: "score" },
            `${t("score")}: ${formatNumber(verdict.score)} / ${formatNumber(verdict.max_score)}`)));
      }
      const note = inLanguage(verdict.message, "");
      if (note) parts.push(el("p", { class: "verdict-note" }, inlineCode(note)));
      const error = verdict.error;
      if (error) {
        const box = el("div", { class: "error-box" });
        const message = inLanguage(error.messages, error.message);
        const head = el("p", { class: "error-head" });
        if (error.line && !/\d/.test(message.split("\n")[0])) {
          head.append(el("span", { class: "error-line" }, t("line", { line: error.line })), " ");
        }
        if (error.type && error.type !== outcome) head.append(el("span", { class: "error-type" }, error.type), " ");
        if (error.diagnostic) head.append(el("code", { class: "diagnostic" }, error.diagnostic));
        if (head.childNodes.length) box.append(head);
        box.append(el("div", { class: "error-message" }, inlineCode(message)));
        if (error.traceback && error.traceback.trim() !== String(error.message || "").trim()) {
          box.append(el("details", { class: "traceback" },
            el("summary", {}, t("traceback")), el("pre", {}, error.traceback)));
        }
        parts.push(box);
        if (error.line) this.editor.setErrorLine(Number(error.line));
      }
      const checks = verdict.checks || [];
      if (checks.length) {
        const list = el("ul", { class: "checks", "aria-label": t("checks") });
        for (const check of checks) {
          const ok = Boolean(check.passed);
          const li = el("li", { class: ok ? "ok" : "bad" },
            el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"),
            el("span", { class: "sr-only" }, ok ? t("passed") : t("failed")), " ",
            el("code", { class: "check-name" }, check.label || check.name || ""));
          if (check.hidden) li.append(" ", el("span", { class: "hidden-check" }, t("hidden_check")));
          if (check.max_points) li.append(" ", el("span", { class: "points" }, `${formatNumber(check.points)} / ${formatNumber(check.max_points)}`));
          const message = inLanguage(check.messages, check.message);
          if (message) li.append(el("div", { class: "message" }, inlineCode(message)));
          if (check.diagnostic && !ok) li.append(el("code", { class: "diagnostic" }, check.diagnostic));
          if (!ok && (check.expected != null || check.actual != null)) {
            // Assert checks carry only `actual`; show just the sides the grader gave.
            const sides = [["expected", check.expected], ["actual", check.actual]]
              .filter(([, value]) => value != null)
              .map(([key, value]) => el("div", {}, el("p", { class: "compare-title" }, t(key)), el("pre", {}, formatValue(value))));
            li.append(el("div", { class: "compare" }, ...sides));
          }
          if (check.line) this.editor.setErrorLine(Number(check.line));
          list.append(li);
        }
        parts.push(list);
      }
      const values = this.valuesOf(verdict);
      if (values.length) {
        const table = el("dl", { class: "values", "aria-label": t("values") });
        for (const [name, value] of values) {
          table.append(el("dt", {}, el("code", {}, name)), el("dd", {}, el("pre", {}, formatValue(value))));
        }
        parts.push(el("p", { class: "section-title" }, t("values")), table);
      }
      if (verdict.stdout || isRun) {
        parts.push(el("p", { class: "section-title" }, t("output")),
          el("pre", { class: "stdout" }, verdict.stdout || t("no_output")));
        if (verdict.output_truncated) parts.push(el("p", { class: "note" }, t("output_cut")));
      }
      panel.replaceChildren(...parts);
      this.countVerdict();
    }

    countVerdict() {
      // Tests (and scripts) can tell a new verdict from the previous one.
      this.feedback.dataset.count = String(Number(this.feedback.dataset.count || 0) + 1);
    }

    // The Run view's values: a list of {name, …} or a {name: value} mapping.
    valuesOf(verdict) {
      const values = verdict.values || verdict.names || null;
      if (!values) return [];
      if (Array.isArray(values)) return values.map((v) => [v.name, v]);
      return Object.entries(values);
    }

    // --- hints --------------------------------------------------------------------------
    setupHints() {
      this.hintList = this.role("hint-list");
      this.hintButton = this.role("hint-button");
      this.renderHints(this.state.hints || [], this.state.hint_count || 0);
      if (this.hintButton) this.hintButton.addEventListener("click", () => this.nextHint());
    }

    renderHints(hints, count) {
      this.hintList.replaceChildren(...hints.map((text) => el("li", { class: "hint" }, inlineCode(text))));
      if (!this.hintButton) return;
      if (hints.length >= count) {
        this.hintButton.textContent = t("no_more_hints");
        this.hintButton.disabled = true;
      } else {
        this.hintButton.textContent = t("hint_button", { next: hints.length + 1, count });
      }
    }

    async nextHint() {
      this.hintButton.disabled = true;
      try {
        const data = await api(this.section.dataset.hintsUrl, { method: "POST", body: "{}" });
        this.hintButton.disabled = false;
        this.renderHints(data.hints, data.count);
        const last = this.hintList.lastElementChild;
        if (last) { last.tabIndex = -1; last.focus(); }
      } catch (error) {
        this.hintButton.disabled = false;
        this.status.textContent = error.message;
      }
    }

    // --- attempt history ----------------------------------------------------------------
    renderHistory() {
      const list = this.role("attempts");
      this.role("attempt-count").textContent = String(this.attempts.length);
      if (!this.attempts.length) {
        list.replaceChildren(el("li", { class: "empty" }, t("no_attempts")));
        return;
      }
      list.replaceChildren(...this.attempts.map((a, i) => {
        const when = a.created_at ? timeFormat.format(new Date(a.created_at)) : "";
        const word = a.status === "graded" ? (UI[a.outcome] ? t(a.outcome) : a.outcome) : t("pending");
        const button = el("button", { type: "button", class: "restore",
          "aria-label": `${t("restore")}: ${when} ${word}` }, t("restore"));
        button.addEventListener("click", () => this.restore(a));
        return el("li", { class: `attempt ${a.outcome || "pending"}`, "data-attempt": a.id ?? i },
          el("time", { datetime: a.created_at || "" }, when), " ",
          el("span", { class: `outcome-word ${a.outcome || ""}` }, word), " ",
          a.status === "graded" ? el("span", { class: "score" }, `${formatNumber(a.score)} / ${formatNumber(a.max_score)}`) : "",
          " ", button);
      }));
    }

    restore(attempt) {
      this.editor.setText(attempt.code || "");
      this.status.textContent = t("restored");
      this.editor.focus();
    }
  }

  if (KIT) KIT.renderMath(article);
  if (/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)) {
    document.querySelectorAll('[data-role="submit-keys"]').forEach((k) => { k.textContent = "⌘↵"; });
    document.querySelectorAll('[data-kind="submit"]').forEach((b) => { b.title = "⌘+Enter"; });
  }
  // On a phone the contents would fill the first screen: start folded there.
  const toc = document.querySelector(".toc-box");
  if (toc && window.matchMedia("(max-width: 1099px)").matches) toc.open = false;
  const cells = Array.from(document.querySelectorAll("section.exercise"), (s) => new Cell(s));
  // Leaving the page: send any draft still waiting for its debounce.
  window.addEventListener("pagehide", () => cells.forEach((c) => c.flush()));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") cells.forEach((c) => c.flush());
  });
})();
