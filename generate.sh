#!/usr/bin/env bash
# Regenerate generated_client/ from openapi.yaml with the pinned generator.
#   generate.sh            writes ./generated_client (the committed tree)
#   generate.sh OUT_DIR    writes OUT_DIR/generated_client
#   generate.sh --check    regenerates into a temp dir and fails, printing the diff,
#                          when ./generated_client is not exactly what the spec gives
# Deterministic: the same spec, config, templates/ (custom generator templates: open
# enums) and pinned tools give byte-identical files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "${1:-}" == "--check" ]]; then
  check_dir="$(mktemp -d)"
  trap 'rm -rf "$check_dir"' EXIT
  bash "$root/generate.sh" "$check_dir" >/dev/null
  if diff -ru "$root/generated_client" "$check_dir/generated_client"; then
    echo "check-generated: generated_client/ matches openapi.yaml"
    exit 0
  fi
  echo "check-generated: generated_client/ is stale: run 'make generate' and commit both" >&2
  exit 1
fi

out_parent="${1:-$root}"
mkdir -p "$out_parent"
out_parent="$(cd "$out_parent" && pwd)"
out="$out_parent/generated_client"

# Tools come from the project's venv when it exists (make bootstraps it), else PATH.
if [[ -x "$root/.venv/bin/openapi-python-client" ]]; then
  export PATH="$root/.venv/bin:$PATH"
fi
command -v openapi-python-client >/dev/null || { echo "generate.sh: openapi-python-client not found (run 'make generate')" >&2; exit 1; }
command -v python >/dev/null || { echo "generate.sh: python not found (run 'make generate')" >&2; exit 1; }
command -v ruff >/dev/null || { echo "generate.sh: ruff not found (run 'make generate')" >&2; exit 1; }

want_gen="0.29.1"
have_gen="$(openapi-python-client --version | awk '{print $NF}')"
[[ "$have_gen" == "$want_gen" ]] || { echo "generate.sh: need openapi-python-client $want_gen, found $have_gen" >&2; exit 1; }

# --overwrite only clears api/ and models/: remove the whole package so files the
# spec no longer produces do not linger.
rm -rf "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$root/openapi.yaml" "$root/openapi-python-client.yaml" "$tmp/"
cp -r "$root/templates" "$tmp/templates"
(
  cd "$tmp"
  # templates/: the generator's supported custom templates (open enums), not patches.
  openapi-python-client generate \
    --path openapi.yaml \
    --config openapi-python-client.yaml \
    --custom-template-path templates \
    --meta none \
    --output-path "$out" \
    --overwrite \
    --fail-on-warning
)
# Response checks compiled from the same spec (fastjsonschema, pinned), beside the models.
python "$root/scripts/gen_response_checks.py" "$tmp/openapi.yaml" "$tmp/openapi-python-client.yaml" "$out"
ruff check "$out/response_checks" --fix-only --isolated --no-cache --select F401,I --quiet
ruff format "$out/response_checks" --isolated --no-cache --quiet
# The generator writes no py.typed with --meta none; the package is fully typed.
: > "$out/py.typed"
find "$out" \( -name .ruff_cache -o -name __pycache__ -o -name .mypy_cache \) -prune -exec rm -rf {} +
echo "generate.sh: wrote $out"
