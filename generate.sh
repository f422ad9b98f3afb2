#!/usr/bin/env bash
# Build the effective openapi.yaml from spec/ (scripts/build_spec.py: the published
# spec, the selection of operations, the overlay), then regenerate generated_client/
# from it with the pinned generator.
#   generate.sh            writes ./openapi.yaml and ./generated_client (the committed tree)
#   generate.sh OUT_DIR    writes OUT_DIR/openapi.yaml and OUT_DIR/generated_client
#   generate.sh --check    builds both into a temp dir and fails, printing the diff,
#                          when ./openapi.yaml or ./generated_client is not what spec/ gives
# Deterministic: the same spec/, config, templates/ (custom generator templates: open
# enums) and pinned tools give byte-identical files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "${1:-}" == "--check" ]]; then
  check_dir="$(mktemp -d)"
  trap 'rm -rf "$check_dir"' EXIT
  bash "$root/generate.sh" "$check_dir" >/dev/null
  stale=0
  diff -u "$root/openapi.yaml" "$check_dir/openapi.yaml" || stale=1
  # Bytecode caches (written beside it whenever it is imported) are not the tree.
  diff -ru -x __pycache__ -x "*.pyc" "$root/generated_client" "$check_dir/generated_client" || stale=1
  if [[ "$stale" == 0 ]]; then
    echo "check-generated: openapi.yaml and generated_client/ match spec/"
    exit 0
  fi
  echo "check-generated: openapi.yaml or generated_client/ is stale: run 'make generate' and commit spec/, openapi.yaml and generated_client/ together" >&2
  exit 1
fi

out_parent="${1:-$root}"
mkdir -p "$out_parent"
out_parent="$(cd "$out_parent" && pwd)"
out="$out_parent/generated_client"
spec="$out_parent/openapi.yaml"

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

python "$root/scripts/build_spec.py" --spec-dir "$root/spec" --out "$spec"

# --overwrite only clears api/ and models/: remove the whole package so files the
# spec no longer produces do not linger.
rm -rf "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$spec" "$tmp/openapi.yaml"
cp "$root/openapi-python-client.yaml" "$tmp/"
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
