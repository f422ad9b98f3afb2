#!/usr/bin/env bash
# The one update path for a new version of the API (`make update-spec SPEC=path`), SPEC
# being the spec as Writer publishes it (YAML or JSON, the whole API or part of it):
#   1. checks SPEC in verbatim as spec/upstream.yaml or spec/upstream.json,
#   2. rebuilds openapi.yaml (the selected operations of spec/selection.yaml, with the
#      overlay spec/overlay.yaml) and regenerates generated_client/ (generate.sh);
#      a selected operation SPEC lacks, or an overlay target that matches nothing,
#      stops here, named, and puts spec/ back as it was,
#   3. refreshes tests/contract/reference/writer-retry-job.md, the copy of the
#      published retry page the contract tests compare openapi.yaml with, from
#      REFERENCE (default: ../shared/reference/writer-retry-job.md),
#   4. prints the changelog between the previous and the new openapi.yaml (so this
#      project's own additions never show), each change additive or breaking, and
#      where writer_jobs/ uses what broke,
#   5. compares the published-page copy with the new openapi.yaml by the same rules:
#      a newer spec than the page is the normal case, so what the spec adds to the
#      page's operation is reported as additive; what it drops or changes is breaking,
#      named with the page, the operation and the field, and how to refresh the copy,
#   6. runs the contract tests (skipped with UPDATE_SPEC_TESTS=0; `make update-spec`
#      installs what they need, Prism included),
#   7. lists the changed files and the next steps.
# Exit status: 0 when every change is additive and the contract tests pass; 1 otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="${1:?usage: update-spec.sh SPEC [REFERENCE]}"
reference="${2:-}"
[[ -n "$reference" ]] || reference="$root/../shared/reference/writer-retry-job.md"
[[ -f "$spec" ]] || { echo "update-spec: no such spec: $spec" >&2; exit 2; }
python="$root/.venv/bin/python"
[[ -x "$python" ]] || python="$(command -v python)"

# The same format it came in: JSON stays JSON.
if "$python" -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$spec" 2>/dev/null; then
  upstream="$root/spec/upstream.json"
else
  upstream="$root/spec/upstream.yaml"
fi

before="$(mktemp -d)"
trap 'rm -rf "$before"' EXIT
cp "$root/openapi.yaml" "$before/openapi.yaml"
mkdir "$before/spec"
cp "$root"/spec/upstream.* "$before/spec/" 2>/dev/null || true
spec_abs="$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")"
if [[ "$spec_abs" != "$upstream" ]]; then
  rm -f "$root"/spec/upstream.yaml "$root"/spec/upstream.yml "$root"/spec/upstream.json
  cp "$spec" "$upstream"
fi
echo "update-spec: $spec checked in as ${upstream#"$root/"}"

if ! bash "$root/generate.sh"; then
  rm -f "$root"/spec/upstream.yaml "$root"/spec/upstream.yml "$root"/spec/upstream.json
  cp "$before"/spec/upstream.* "$root/spec/" 2>/dev/null || true
  bash "$root/generate.sh" >/dev/null 2>&1 || true
  echo "update-spec: $spec NOT taken (see above); spec/, openapi.yaml and generated_client/ are as before." >&2
  exit 1
fi

if [[ -f "$reference" ]]; then
  cp "$reference" "$root/tests/contract/reference/writer-retry-job.md"
  echo "update-spec: refreshed tests/contract/reference/writer-retry-job.md from $reference"
  # The other published operation pages beside it, when the folder has them.
  for page in writer-get-job.yaml writer-create-job.yaml writer-list-jobs.yaml; do
    if [[ -f "$(dirname "$reference")/$page" ]]; then
      cp "$(dirname "$reference")/$page" "$root/tests/contract/reference/$page"
    fi
  done
else
  echo "update-spec: no published retry page at $reference: the copy in tests/contract/reference/ stays; the new spec is compared with it below" >&2
fi

status=0
"$python" "$root/scripts/api_changelog.py" --old "$before/openapi.yaml" \
  --old-label "the previous openapi.yaml" --fail-on-breaking || status=1
"$python" "$root/scripts/api_changelog.py" --page "$root/tests/contract/reference/writer-retry-job.md" \
  --fail-on-breaking || status=1
if [[ "${UPDATE_SPEC_TESTS:-1}" != "0" ]]; then
  (cd "$root" && "$python" -m pytest tests/contract -m "not scripts" -q -p no:cacheprovider) || {
    echo "update-spec: the contract tests fail against the new spec (see above)" >&2
    status=1
  }
fi
bash "$root/scripts/after-generate.sh"
if [[ "$status" != 0 ]]; then
  echo "update-spec: the new spec breaks this client (see above): exit 1" >&2
fi
exit "$status"
