// The lesson page's vendor bundle: a CodeMirror 6 Python editor and KaTeX math.
// Exposed as the global `LessonKit` so that static/js/lesson.js stays plain, hand-edited JS.
import {
  EditorView, keymap, Decoration, lineNumbers, highlightActiveLineGutter, highlightSpecialChars,
  drawSelection, dropCursor, rectangularSelection, highlightActiveLine,
} from "@codemirror/view";
import { EditorState, StateEffect, StateField, Prec } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  indentUnit, indentOnInput, bracketMatching, syntaxHighlighting, defaultHighlightStyle,
} from "@codemirror/language";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { python } from "@codemirror/lang-python";
import katex from "katex";

// One highlighted line: the line a verdict's error points at.
const setErrorLine = StateEffect.define();
const errorLineMark = Decoration.line({ class: "cm-error-line" });
const errorLineField = StateField.define({
  create: () => Decoration.none,
  update(value, tr) {
    value = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setErrorLine)) {
        const line = effect.value;
        if (line == null || line < 1 || line > tr.state.doc.lines) value = Decoration.none;
        else value = Decoration.set([errorLineMark.range(tr.state.doc.line(line).from)]);
      }
    }
    return value;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/**
 * Mount an editor in `parent`.
 * options: {doc, label, onChange(text), onSubmit(), onRun()}
 */
export function createEditor(parent, options) {
  const shortcuts = Prec.highest(
    keymap.of([
      { key: "Mod-Enter", run: () => { options.onSubmit?.(); return true; } },
      { key: "Shift-Enter", run: () => { options.onRun?.(); return true; } },
    ]),
  );
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.doc || "",
      extensions: [
        shortcuts,
        // basicSetup without autocompletion: its pop-up hides the code and swallows Enter.
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        dropCursor(),
        indentOnInput(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        bracketMatching(),
        closeBrackets(),
        rectangularSelection(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        keymap.of([
          ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap,
          indentWithTab, // Esc then Tab leaves the editor (CodeMirror's tab-focus rule)
        ]),
        indentUnit.of("    "),
        python(),
        errorLineField,
        EditorView.contentAttributes.of({ "aria-label": options.label || "Code" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange?.(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    setErrorLine(line) {
      const effects = [setErrorLine.of(line ?? null)];
      if (line != null && line >= 1 && line <= view.state.doc.lines) {
        effects.push(EditorView.scrollIntoView(view.state.doc.line(line).from, { y: "center" }));
      }
      view.dispatch({ effects });
    },
    focus: () => view.focus(),
  };
}

/** Typeset pymdownx.arithmatex "generic" output: `\( … \)` in spans, `\[ … \]` in divs. */
export function renderMath(root) {
  for (const node of root.querySelectorAll(".arithmatex")) {
    let tex = node.textContent.trim();
    const display = node.tagName === "DIV";
    tex = tex.replace(/^\\[([]/, "").replace(/\\[)\]]$/, "");
    try {
      katex.render(tex, node, { displayMode: display, throwOnError: false, output: "htmlAndMathml" });
    } catch (error) {
      node.title = String(error);
    }
  }
}

window.LessonKit = { createEditor, renderMath };
