"""Test stand-in for CML 0.20's `cml comment create|update`, on the act world's API state.

What CML does with the markdown (src/cml.js publishLocalFiles, v0.20.6): every `image`, `link` and
`definition` node (autolinks included; not a watermark) has its URL resolved with
path.resolve(dirname(markdown file), url), whatever its scheme; each that names an existing file is
uploaded to the publish host (default https://asset.cml.dev) and its URL replaced; `data:image/` URLs are
uploaded as bytes. Missing files are skipped; any other error (a directory, no permission) fails. This
stand-in records each such file in $ACT_WORLD/published.jsonl (its real path), so a test sees exactly what a
real run would have made public. `--watermark-title` marks the comment; `update` edits the last comment on
the target carrying that watermark, else creates one. `--no-publish` / `--publish=false` uploads nothing.
Every call's arguments go to $ACT_WORLD/cml.jsonl.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

WORLD = Path(os.environ["ACT_WORLD"])


def options(args: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    rest: list[str] = []
    it = iter(args)
    for arg in it:
        if arg.startswith("--no-"):
            opts[arg[5:]] = "false"
        elif arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            opts[key] = value
        elif arg.startswith("--") and arg[2:] in {"publish", "native", "watch", "rm-watermark"}:
            opts[arg[2:]] = "true"
        elif arg.startswith("--"):
            opts[arg[2:]] = next(it)
        else:
            rest.append(arg)
    return opts, rest


def targets(markdown_file: Path) -> list[tuple[str, str]]:
    """(url, title) of every definition, image and link node, in document order, as CML's own parser
    (remark 13, unist-util-visit 2: visit.cjs, from the project's package-lock.json) reads them."""
    proc = subprocess.run(
        ["node", str(Path(__file__).with_name("visit.cjs")), str(markdown_file)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NODE_PATH": os.environ["ACT_PREPARED_NODE_MODULES"]},
    )
    return [(node["url"], node["title"]) for node in json.loads(proc.stdout)]


def publish(markdown: str, markdown_file: Path, url: str) -> str:
    """CML's publishLocalFiles: each node's url is resolved with path.resolve(dirname(file), url), no scheme
    special; a missing file is left as it is, any other error fails the command; each file found is
    uploaded (recorded in published.jsonl) and its url replaced by the host's."""
    folder = markdown_file.resolve().parent
    for target, title in targets(markdown_file):
        if not target or title.startswith("CML watermark"):
            continue
        record: dict[str, object] = {"target": target}
        if target.startswith("data:image/"):
            record["data"] = True
            data = target.encode()
        else:
            path = Path(os.path.normpath(folder / target))  # path.resolve: ".." collapses
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            record["path"] = str(path)
        digest = hashlib.sha256(data).hexdigest()
        with (WORLD / "published.jsonl").open("a") as log:
            log.write(json.dumps({**record, "sha256": digest}) + "\n")
        markdown = markdown.replace(target, f"{url.rstrip('/')}/{digest}?cml=png&cache-bypass={uuid.uuid4()}")
    return markdown


def comment(command: str, args: list[str]) -> int:
    opts, rest = options(args)
    if not os.environ.get("REPO_TOKEN") and not os.environ.get("GITHUB_TOKEN"):
        print("cml: REPO_TOKEN is not set", file=sys.stderr)
        return 1
    (markdown_file,) = rest
    path = Path(markdown_file)
    body = path.read_text()
    if opts.get("native") == "true":
        print("Error: Github does not support publish!", file=sys.stderr)  # src/drivers/github.js
        return 1
    if opts.get("publish", "true") != "false":
        body = publish(body, path, opts.get("publish-url", "https://asset.cml.dev"))
    title = opts.get("watermark-title", "")
    digest = hashlib.sha1(title.encode()).hexdigest()
    mark = f'![](https://cml.dev/watermark.png#{digest} "CML watermark {title}")'
    body = f"{body}\n\n{mark}"
    target = opts.get("target", "")
    if not target.startswith("pr/"):
        print(f"cml stand-in: unsupported --target {target!r}", file=sys.stderr)
        return 1
    number = int(target[3:])
    with (WORLD / "github.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads((WORLD / "github.json").read_text())
        pr = next((p for p in state["pulls"] if p["number"] == number), None)
        if pr is None:
            print(f"cml: Not Found: pull request {number}", file=sys.stderr)
            return 1
        mine = [c for c in pr["comments"] if mark in c["body"]]
        if command == "update" and mine:
            mine[-1]["body"], mine[-1]["updates"] = body, mine[-1]["updates"] + 1
        else:
            pr["comments"].append({"body": body, "updates": 0})
        (WORLD / "github.json").write_text(json.dumps(state, indent=1))
    print(f"https://github.com/{os.environ['ACT_REPOSITORY']}/pull/{number}#issuecomment")
    return 0


def main(argv: list[str]) -> int:
    with (WORLD / "cml.jsonl").open("a") as log:
        log.write(json.dumps({"args": argv, "cwd": str(Path.cwd())}) + "\n")
    if argv[:1] == ["comment"] and argv[1:2] and argv[1] in {"create", "update"}:
        return comment(argv[1], argv[2:])
    print(f"cml stand-in: unsupported command {argv!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
