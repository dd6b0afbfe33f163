// The replica's tsc: `tsc -p .` over tsconfig.json's "include" folders.
const fs = require("fs"), path = require("path");
const project = process.argv[process.argv.indexOf("-p") + 1] || ".";
const config = JSON.parse(fs.readFileSync(path.join(project, "tsconfig.json"), "utf8"));
let errors = 0;
function walk(p) {
  if (!fs.existsSync(p)) return;
  if (fs.statSync(p).isDirectory()) { for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e)); return; }
  if (!/\.tsx?$/.test(p)) return;
  fs.readFileSync(p, "utf8").split("\n").forEach((line, i) => {
    if (/const \w+: number = "/.test(line)) {
      console.log(`${p}(${i + 1},7): error TS2322: Type 'string' is not assignable to type 'number'.`);
      errors++;
    }
  });
}
config.include.forEach((dir) => walk(path.join(project, dir)));
if (errors) { console.log(`\nFound ${errors} error(s).`); process.exit(2); }
