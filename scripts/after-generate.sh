#!/usr/bin/env bash
# The end of `make generate` and `make update-spec`: which files the run changed (against
# the last commit) and what to do next.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
watched=(spec openapi.yaml generated_client tests/contract/reference)
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "generate: not a git work tree, cannot list what changed"
  exit 0
fi
changed="$(git status --porcelain --untracked-files=all -- "${watched[@]}")"
if [[ -z "$changed" ]]; then
  echo "generate: no file changed (openapi.yaml and generated_client/ are as committed)."
  exit 0
fi
echo "generate: changed files (M modified, D deleted, ?? new):"
sed 's/^/  /' <<<"$changed"
cat <<'NEXT'
Next:
  1. Read the changelog above: fix writer_jobs/ where it uses what broke.
  2. make test
  3. Commit the files listed above together, e.g.
       git add spec openapi.yaml generated_client tests/contract/reference && git commit
NEXT
