// The replica's eslint: `eslint . --ext .ts,... --max-warnings N --ignore-pattern P`.
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2);
const exts = [], ignores = ["node_modules"], roots = [];
let maxWarnings = -1;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--ext") exts.push(...args[++i].split(","));
  else if (args[i] === "--ignore-pattern") ignores.push(args[++i]);
  else if (args[i] === "--max-warnings") maxWarnings = Number(args[++i]);
  else roots.push(args[i]);
}
let errors = 0;
function walk(p) {
  const rel = path.relative(".", p);
  if (rel && ignores.some((g) => rel === g || rel.startsWith(g + "/"))) return;
  const st = fs.statSync(p);
  if (st.isDirectory()) { for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e)); return; }
  if (!exts.includes(path.extname(p))) return;
  fs.readFileSync(p, "utf8").split("\n").forEach((line, i) => {
    if (/^\s*debugger;?\s*$/.test(line)) {
      console.log(`${rel}\n  ${i + 1}:1  error  Unexpected 'debugger' statement  no-debugger`);
      errors++;
    }
  });
}
(roots.length ? roots : ["."]).forEach(walk);
if (errors) { console.log(`\n✖ ${errors} problem(s) (${errors} error(s), 0 warnings)`); process.exit(1); }
if (maxWarnings < 0) console.log("(no --max-warnings)");
