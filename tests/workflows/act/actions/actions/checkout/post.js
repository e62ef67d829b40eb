// act removes a host-mode workspace when the job ends; the tests read the job's outputs afterwards, so the
// post step (the job's last, as checkout is its first) keeps a hard-linked copy under $ACT_WORLD/workspaces.
const { execFileSync } = require("child_process");
const dest = `${process.env.ACT_WORLD}/workspaces/${process.env.GITHUB_RUN_ID}-${process.env.GITHUB_JOB}`;
execFileSync("mkdir", ["-p", `${process.env.ACT_WORLD}/workspaces`]);
execFileSync("cp", ["-al", process.env.GITHUB_WORKSPACE, dest]);
