// Build: bundle src/editor.js into ../static/vendor/lessonkit.js and copy KaTeX's CSS and fonts.
// Run `npm ci && npm run build` after changing a front-end dependency; commit the output.
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static", "vendor");

// CodeMirror injects its theme through style-mod, which writes a <style> element into a
// document's <head>: a strict CSP (style-src 'self') blocks that. A constructed stylesheet
// (document.adoptedStyleSheets) is not inline markup, so CSP allows it; use it everywhere.
const cspFriendlyStyleMod = {
  name: "csp-friendly-style-mod",
  setup(b) {
    b.onLoad({ filter: /style-mod[\\/]src[\\/]style-mod\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const patched = source.replace(
        "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet)",
        "if (root.adoptedStyleSheets && win.CSSStyleSheet)",
      );
      if (patched === source) throw new Error("style-mod changed: update the CSP patch");
      return { contents: patched, loader: "js" };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  metafile: true,
  entryPoints: [join(here, "src", "editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outfile: join(out, "lessonkit.js"),
  legalComments: "linked",
  plugins: [cspFriendlyStyleMod],
});
const katexDist = join(here, "node_modules", "katex", "dist");
mkdirSync(join(out, "katex"), { recursive: true });
cpSync(join(katexDist, "katex.min.css"), join(out, "katex", "katex.min.css"));
cpSync(join(katexDist, "fonts"), join(out, "katex", "fonts"), { recursive: true });
// Ship the licences of everything bundled, next to the bundle.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
packages.add("katex");
let notices = "Third-party software bundled in lessonkit.js and katex/ (from npm):\n";
for (const name of [...packages].sort()) {
  const dir = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  notices += `\n==== ${name} ${meta.version} (${meta.license}) ====\n`;
  if (file && existsSync(join(dir, file))) notices += readFileSync(join(dir, file), "utf8");
}
writeFileSync(join(out, "LICENSES.txt"), notices);
console.log("built", out, [...packages].sort().join(" "));
