// Runs checkout.sh with the inputs (INPUT_FETCH-DEPTH is no valid shell name, hence this wrapper).
const { execFileSync } = require("child_process");
const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
try {
  execFileSync("bash", [`${__dirname}/checkout.sh`], {
    stdio: "inherit",
    env: {
      ...process.env,
      REPOSITORY: input("repository"),
      REF: input("ref"),
      DEPTH: input("fetch-depth") || "1",
      DEST: input("path") || ".",
    },
  });
} catch (err) {
  process.exitCode = 1;
}
