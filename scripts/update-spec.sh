#!/usr/bin/env bash
# The one update path for a new version of the API (`make update-spec SPEC=path`):
#   1. copies SPEC over openapi.yaml (keeping the old one to compare with),
#   2. regenerates generated_client/ (generate.sh),
#   3. refreshes tests/contract/reference/writer-retry-job.md, the copy of the
#      published retry page the contract tests compare openapi.yaml with, from
#      REFERENCE (default: ../shared/reference/writer-retry-job.md),
#   4. prints the changelog (API and Python surface, and where writer_jobs/ uses
#      what broke),
#   5. runs the contract tests (skipped with UPDATE_SPEC_TESTS=0).
# Then: fix what the changelog and the tests point at, `make test`, commit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="${1:?usage: update-spec.sh SPEC [REFERENCE]}"
reference="${2:-}"
[[ -n "$reference" ]] || reference="$root/../shared/reference/writer-retry-job.md"
[[ -f "$spec" ]] || { echo "update-spec: no such spec: $spec" >&2; exit 2; }
python="$root/.venv/bin/python"
[[ -x "$python" ]] || python="$(command -v python)"

old="$(mktemp)"
trap 'rm -f "$old"' EXIT
cp "$root/openapi.yaml" "$old"
if [[ "$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")" != "$root/openapi.yaml" ]]; then
  cp "$spec" "$root/openapi.yaml"
fi
bash "$root/generate.sh"
if [[ -f "$reference" ]]; then
  cp "$reference" "$root/tests/contract/reference/writer-retry-job.md"
  echo "update-spec: refreshed tests/contract/reference/writer-retry-job.md from $reference"
else
  echo "update-spec: no published retry page at $reference: the contract tests compare with the old copy" >&2
fi
"$python" "$root/scripts/api_changelog.py" --old "$old" --old-label "the previous openapi.yaml"
if [[ "${UPDATE_SPEC_TESTS:-1}" != "0" ]]; then
  (cd "$root" && "$python" -m pytest tests/contract -q -p no:cacheprovider)
fi
