// Restore: exact key, else the newest entry matching a restore-keys prefix (tried in order).
const fs = require("fs");
const path = require("path");
const os = require("os");
// "~/" is the runner's home, as the real action expands it.
const resolve = (p) => path.resolve(p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p);
const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const store = process.env.ACT_CACHE_STORE;
const key = input("key");
const paths = input("path").split("\n").map((p) => p.trim()).filter(Boolean);
const prefixes = input("restore-keys").split("\n").map((p) => p.trim()).filter(Boolean);
const entries = fs.existsSync(store) ? fs.readdirSync(store) : [];
const newest = (names) =>
  names.sort((a, b) => fs.statSync(path.join(store, b)).mtimeMs - fs.statSync(path.join(store, a)).mtimeMs)[0];
let hit = entries.includes(key) ? key : undefined;
const exact = Boolean(hit);
for (const prefix of prefixes) {
  if (hit) break;
  hit = newest(entries.filter((e) => e.startsWith(prefix)));
}
fs.appendFileSync(process.env.GITHUB_STATE, `CACHE_KEY=${key}\nCACHE_EXACT=${exact}\n`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${exact}\n`);
if (!hit) {
  console.log(`Cache not found for input keys: ${[key, ...prefixes].join(", ")}`);
} else {
  paths.forEach((p, i) => {
    const src = path.join(store, hit, String(i));
    if (fs.existsSync(src)) fs.cpSync(src, resolve(p), { recursive: true });
  });
  console.log(`Cache restored from key: ${hit}`);
}
