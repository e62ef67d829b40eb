// Save under key unless the exact key was restored (a key is immutable once written, as on GitHub).
const fs = require("fs");
const path = require("path");
const os = require("os");
// "~/" is the runner's home, as the real action expands it.
const resolve = (p) => path.resolve(p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p);
const store = process.env.ACT_CACHE_STORE;
const key = process.env.STATE_CACHE_KEY;
const paths = (process.env.INPUT_PATH || "").split("\n").map((p) => p.trim()).filter(Boolean);
if (process.env.STATE_CACHE_EXACT === "true") {
  console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
} else if (!paths.some((p) => fs.existsSync(resolve(p)))) {
  console.log("::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.");
} else if (fs.existsSync(path.join(store, key))) {
  console.log(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
} else {
  const tmp = path.join(store, `.${key}.${process.pid}`);
  paths.forEach((p, i) => {
    if (fs.existsSync(resolve(p))) fs.cpSync(resolve(p), path.join(tmp, String(i)), { recursive: true });
  });
  fs.mkdirSync(tmp, { recursive: true });
  fs.renameSync(tmp, path.join(store, key));
  console.log(`Cache saved with key: ${key}`);
}
