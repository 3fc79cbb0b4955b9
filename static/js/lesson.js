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

  // The verdict itself is drawn by the shared feedback component (static/js/feedback.js),
  // the same one the dashboard's submission page uses.
  const FB = window.Feedback;
  const { el, inlineCode, formatNumber } = FB;
  const t = FB.translator(UI);

  // The page's own form token first: it works even if the CSRF cookie is made HttpOnly.
  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    if (input && input.value) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  const timeFormat = new Intl.DateTimeFormat(LANG === "zh-hans" ? "zh-Hans" : "en", {
    dateStyle: "medium", timeStyle: "medium",
  });

  async function api(url, options) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
    if (init.body !== undefined) {
      init.headers = { ...init.headers, "Content-Type": "application/json", "X-CSRFToken": csrfToken() };
    }
    const response = await fetch(url, init);
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON: keep the status text */ }
    if (!response.ok) {
      const error = new Error(data.error || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // data-submission-url is the URL of submission 0: put this id in its place.
  function submissionUrl(id) {
    return article.dataset.submissionUrl.replace(/\/0$/, `/${Number(id)}`);
  }

  // The lesson's "x of n exercises passed", counted from the cells' badges.
  function updateProgress() {
    const line = document.querySelector('[data-role="lesson-progress"]');
    if (!line) return;
    // Optional exercises (data-optional) count in neither number.
    const cells = document.querySelectorAll("section.exercise:not([data-optional])");
    const done = document.querySelectorAll('section.exercise:not([data-optional]) [data-role="passed-badge"]:not([hidden])');
    line.textContent = t("progress", { done: done.length, total: cells.length });
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
      this.attemptView = this.role("attempt-view");
      this.busy = false;
      // Bumped by each Run/Submit: a verdict loaded for the page (the last attempt's) never
      // replaces a newer one.
      this.viewToken = 0;
      this.openAttemptId = null;
      this.verdicts = new Map(); // graded verdicts read from the API, by submission id
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
          // The textarea's label is in the page's language (templates/courses/_exercise.html).
          doc: initial, label: this.textarea.getAttribute("aria-label") || `Code for ${this.slug}`,
          ...handlers,
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
      this.showLatest();
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
      } catch (error) {
        this.saveState.classList.add("unsaved");
        const status = error.status || 0;
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          // Refused for what it is (too large, not text): sending it again cannot help.
          // The browser keeps it (still marked unsaved), and the student is told why.
          this.saveState.textContent = status === 413
            ? t("draft_too_large") : t("draft_refused", { message: error.message });
          return;
        }
        this.saveState.textContent = t("saved_locally");
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
      this.viewToken += 1;
      this.editor.setErrorLine(null);
      this.status.textContent = t("sending");
      const code = this.editor.getText();
      let attempt = null;
      try {
        // ?wait=1: the answer comes with the verdict when it is stored within a second (most
        // runs), so one request, not a submit and a poll, carries it (issue #15: the web's
        // CPU per verdict); a longer run is polled below.
        const created = await api(`${this.section.dataset.submitUrl}?wait=1`, {
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
        if (verdict.status === "graded" && verdict.id != null) this.verdicts.set(verdict.id, verdict);
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
      updateProgress();
    }

    // --- the verdict ----------------------------------------------------------------------
    // options.count (default true): a fresh verdict bumps data-count, which tests and
    // scripts read to tell it from the previous one; the verdict loaded with the page does not.
    render(verdict, kind, options) {
      const opts = options || {};
      const parts = FB.render(verdict, {
        ui: UI, lang: LANG, kind, onLine: (line) => this.editor.setErrorLine(line),
      });
      if (opts.origin) parts.unshift(opts.origin);
      this.feedback.replaceChildren(...parts);
      if (verdict.id != null) this.feedback.dataset.submission = String(verdict.id);
      if (opts.count !== false) this.countVerdict();
    }

    countVerdict() {
      // Tests (and scripts) can tell a new verdict from the previous one.
      this.feedback.dataset.count = String(Number(this.feedback.dataset.count || 0) + 1);
    }

    // The last attempt's verdict, read from the API when the page loads (the page itself
    // carries only the attempts' summaries): a reload keeps what the student was told.
    async showLatest() {
      const latest = this.attempts[0];
      if (!latest || latest.id === undefined || latest.id === null) return;
      const token = this.viewToken;
      try {
        let data = await api(submissionUrl(latest.id));
        if (data.status !== "graded") {
          data = await this.waitQuietly(submissionUrl(latest.id), token);
          if (!data) return;
          Object.assign(latest, { status: "graded", outcome: data.outcome, score: data.score,
            max_score: data.max_score });
          this.renderHistory();
          if (data.outcome === "passed") this.markPassed();
        }
        this.verdicts.set(latest.id, data);
        if (token !== this.viewToken) return; // the student has sent something newer
        const when = latest.created_at ? timeFormat.format(new Date(latest.created_at)) : "";
        const origin = el("p", { class: "verdict-origin" }, t("last_attempt", { when }));
        this.render(data, "submit", { count: false, origin });
        this.feedback.dataset.loaded = "latest";
      } catch (_) {
        // The page works without it: the history still lists the attempt.
      }
    }

    // Long-poll an attempt that was still being graded when the page loaded, without
    // touching the status line; give up when the student sends something new.
    async waitQuietly(url, token) {
      const started = Date.now();
      while (token === this.viewToken && Date.now() - started < POLL_GIVE_UP_MS) {
        const data = await api(`${url}?wait=2`);
        if (data.status === "graded") return data;
        await sleep(500);
      }
      return null;
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
      const viewId = `attempt-view-${this.slug}`;
      list.replaceChildren(...this.attempts.map((a, i) => {
        const when = a.created_at ? timeFormat.format(new Date(a.created_at)) : "";
        const word = a.status === "graded" ? (UI[a.outcome] ? t(a.outcome) : a.outcome) : t("pending");
        // The row opens the attempt's feedback; its own button restores the code.
        const isOpen = a.id != null && a.id === this.openAttemptId;
        const open = el("button", { type: "button", class: "attempt-open", "aria-controls": viewId,
          "aria-expanded": isOpen ? "true" : "false", title: t("show_attempt") },
          el("time", { datetime: a.created_at || "" }, when), " ",
          el("span", { class: `outcome-word ${a.outcome || ""}` }, word), " ",
          a.status === "graded" ? el("span", { class: "score" }, `${formatNumber(a.score)} / ${formatNumber(a.max_score)}`) : "",
          a.late ? el("span", { class: "late" }, ` ${t("late")}`) : "");
        const restore = el("button", { type: "button", class: "restore",
          "aria-label": `${t("restore")}: ${when} ${word}` }, t("restore"));
        restore.addEventListener("click", () => this.restore(a));
        const row = el("li", { class: `attempt ${a.outcome || "pending"}${isOpen ? " open" : ""}`, "data-attempt": a.id ?? i },
          open, " ", restore);
        row.addEventListener("click", (event) => {
          if (!event.target.closest("button.restore")) this.openAttempt(a);
        });
        return row;
      }));
    }

    restore(attempt) {
      this.editor.setText(attempt.code || "");
      this.status.textContent = t("restored");
      this.editor.focus();
    }

    // One attempt's full feedback, read-only, with the code it was for (both from the API).
    // A second click on the same row closes it.
    async openAttempt(attempt) {
      const view = this.attemptView;
      if (!view || attempt.id === undefined || attempt.id === null) return;
      if (this.openAttemptId === attempt.id && !view.hidden) {
        this.closeAttempt();
        return;
      }
      this.openAttemptId = attempt.id;
      this.syncExpanded();
      view.hidden = false;
      view.dataset.attempt = String(attempt.id);
      view.replaceChildren(el("p", { class: "attempt-loading" }, t("loading")));
      let data = this.verdicts.get(attempt.id);
      try {
        if (!data) {
          data = await api(submissionUrl(attempt.id));
          if (data.status === "graded") this.verdicts.set(attempt.id, data);
        }
      } catch (error) {
        if (this.openAttemptId === attempt.id) {
          view.replaceChildren(el("p", { class: "outcome error" }, error.message));
        }
        return;
      }
      if (this.openAttemptId !== attempt.id) return; // another row was clicked meanwhile
      const when = attempt.created_at ? timeFormat.format(new Date(attempt.created_at)) : "";
      const code = typeof data.code === "string" ? data.code : (attempt.code || "");
      const lines = code.split("\n");
      const codeBlock = el("pre", { class: "attempt-code numbered", "aria-label": t("attempt_code") },
        el("code", {}, ...lines.map((line, i) => el("span", { class: "code-line", "data-line": i + 1 }, line))));
      const close = el("button", { type: "button", class: "attempt-close" }, t("close"));
      close.addEventListener("click", () => this.closeAttempt());
      const restore = el("button", { type: "button", class: "restore" }, t("restore"));
      restore.addEventListener("click", () => this.restore({ code }));
      const feedback = el("div", { class: "feedback attempt-feedback" });
      if (data.status === "graded") {
        feedback.replaceChildren(...FB.render(data, {
          ui: UI, lang: LANG, kind: "submit",
          onLine: (n) => {
            const line = codeBlock.querySelector(`[data-line="${Number(n)}"]`);
            if (line) line.classList.add("error-line");
          },
        }));
      } else {
        feedback.replaceChildren(el("p", { class: "note" }, t("pending")));
      }
      view.replaceChildren(
        el("div", { class: "attempt-view-head" },
          el("p", { class: "attempt-view-title" }, t("attempt_of", { when })), restore, close),
        el("p", { class: "section-title" }, t("attempt_code")), codeBlock, feedback);
      view.dataset.rendered = String(attempt.id);
    }

    closeAttempt() {
      this.openAttemptId = null;
      if (this.attemptView) {
        this.attemptView.hidden = true;
        this.attemptView.replaceChildren();
        delete this.attemptView.dataset.rendered;
      }
      this.syncExpanded();
    }

    // Which row is open, told to screen readers (the rows stay as they are: focus too).
    syncExpanded() {
      this.role("attempts").querySelectorAll("li.attempt").forEach((row) => {
        const open = this.openAttemptId !== null && row.dataset.attempt === String(this.openAttemptId);
        row.classList.toggle("open", open);
        const button = row.querySelector(".attempt-open");
        if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
      });
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
