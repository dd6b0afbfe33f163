// The replica's Playwright: `playwright test [DIR]` against PW_WEB_URL.
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2);
if (args[0] !== "test") { console.error("usage: playwright test [dir]"); process.exit(2); }
const dir = args[1] || "tests/e2e";
const base = process.env.PW_WEB_URL || "http://127.0.0.1:3000";
const headers = process.env.HEALTH_CHECK_TOKEN ? { "X-Health-Token": process.env.HEALTH_CHECK_TOKEN } : {};
const specs = [];
(function walk(p) {
  if (fs.statSync(p).isDirectory()) { for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e)); return; }
  if (p.endsWith(".spec.ts")) specs.push(p);
})(dir);
const checks = [];
for (const spec of specs) {
  const text = fs.readFileSync(spec, "utf8");
  for (const m of text.matchAll(/request\.get\("([^"]+)"\)[\s\S]*?toBe\((\d+)\)/g)) {
    checks.push([spec, m[1], Number(m[2])]);
  }
}
(async () => {
  let failed = 0;
  for (const [spec, route, want] of checks) {
    try {
      const res = await fetch(base + route, { headers, redirect: "manual" });
      if (res.status !== want) { failed++; console.log(`  ✘ ${spec} GET ${route}: ${res.status}, expected ${want}`); }
      else console.log(`  ✓ ${spec} GET ${route}`);
    } catch (err) { failed++; console.log(`  ✘ ${spec} GET ${route}: ${err.cause ? err.cause.code : err}`); }
  }
  console.log(`\n  ${checks.length - failed} passed, ${failed} failed (${base})`);
  process.exit(failed || !checks.length ? 1 : 0);
})();
