#!/usr/bin/env bash
# The stand-in checkout (action.yml says what it follows); main.js passes the inputs as
# REPOSITORY, REF, DEPTH and DEST.
set -euo pipefail
mkdir -p "$DEST" && cd "$DEST"
find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +
git init -q
git remote add origin "https://github.com/${REPOSITORY}"
if [ "$DEPTH" = 0 ]; then depth=(); else depth=(--depth "$DEPTH"); fi
if [[ "$REF" =~ ^[0-9a-f]{40}$ ]]; then ref=""; sha="$REF"
elif [ -n "$REF" ]; then ref="$REF"; sha=""
else ref="$GITHUB_REF"; sha="$GITHUB_SHA"; fi
if [ "$DEPTH" = 0 ]; then
  git fetch -q --prune --tags origin '+refs/heads/*:refs/remotes/origin/*'
fi
case "$ref" in
  refs/heads/*) name="${ref#refs/heads/}"
    git fetch -q "${depth[@]}" origin "+${ref}:refs/remotes/origin/${name}"
    git checkout -q --force -B "$name" "${sha:-refs/remotes/origin/$name}" ;;
  refs/pull/*) git fetch -q "${depth[@]}" origin "+${ref}:refs/remotes/${ref#refs/}"
    git checkout -q --force "${sha:-refs/remotes/${ref#refs/}}" ;;
  "") git fetch -q "${depth[@]}" origin "$sha" && git checkout -q --force "$sha" ;;
  *) git fetch -q "${depth[@]}" origin "+${ref}:refs/remotes/origin/${ref##*/}"
    git checkout -q --force "refs/remotes/origin/${ref##*/}" ;;
esac
echo "checkout: ${REPOSITORY} ${ref:-$sha} at $(git rev-parse HEAD)"
# The test world links one prepared environment instead of installing ~1 GB per job: a folder of
# links to the prepared venv / node_modules with a stamp of its own, so `make env` finds it synced
# and the shared one is never re-synced from this checkout; this checkout's sources come first.
link_env() {
  mkdir "$2"
  for entry in "$1"/* "$1"/.[!.]*; do
    case "$(basename "$entry")" in "$3" | .gitignore) ;; *) [ -e "$entry" ] && ln -s "$entry" "$2/" ;; esac
  done
  touch "$2/$3"
  echo "*" > "$2/.gitignore"  # a real file: DVC ignores (and warns about) a linked one
}
if [ -d "${ACT_PREPARED_VENV:-}" ]; then
  link_env "$ACT_PREPARED_VENV" .venv .synced
  echo "PYTHONPATH=$PWD/src" >> "$GITHUB_ENV"
fi
if [ -d "${ACT_PREPARED_NODE_MODULES:-}" ]; then link_env "$ACT_PREPARED_NODE_MODULES" node_modules .installed; fi
# checkov's own venv (make test's prerequisite), linked whole: nothing in it is checkout-specific.
if [ -d "${ACT_PREPARED_CHECKOV:-}" ]; then mkdir -p .tools && ln -s "$ACT_PREPARED_CHECKOV" .tools/checkov; fi
