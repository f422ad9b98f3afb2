#!/usr/bin/env bash
# The main job, offline: a fake Writer API with 200 failed jobs and a few percent of
# injected 429/503s, and `writer-jobs retry-failed --wait` cleaning it up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The venv's programs: .venv's (make demo), or the one a test runs on (each Python of CI).
bin="${DEMO_BIN:-.venv/bin}"
log="$(mktemp)"
journal="$(mktemp -u).jsonl"
port="$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# The account allows 3,000 requests a minute (7.5x Writer's 400, so the demo takes
# seconds), lists newest first, and has 500 completed jobs of history.
"$bin/writer-jobs" serve --port "$port" --seed-failed 200 --seed-completed 500 --app demo-app \
  --fault-rate 0.04 --delay 1-3 --failure-ratio 0.05 --rate-limit 3000 --newest-first \
  --seed 7 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log" "$journal"' EXIT

for _ in $(seq 100); do
  grep -q "Fake Writer API on" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"

echo "\$ writer-jobs --base-url http://127.0.0.1:$port --api-key fake-writer-key \\"
echo "    retry-failed demo-app --wait --rate-limit 3000 --journal $journal"
# Exit 3 says some jobs failed again (the fake fails 5 % of runs): expected here.
status=0
"$bin/writer-jobs" --base-url "http://127.0.0.1:$port" --api-key fake-writer-key \
  retry-failed demo-app --wait --rate-limit 3000 --journal "$journal" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then exit "$status"; fi
echo "exit code $status (3: some jobs failed again; their ids are listed above)"
echo "journal: $(wc -l <"$journal") lines; every job has exactly one final outcome:"
"$bin/python" - "$journal" <<'PY'
import json, sys, collections
finals = collections.Counter(
    e["job_id"] for e in map(json.loads, open(sys.argv[1])) if e["event"] == "outcome" and e["final"]
)
print(f"  {len(finals)} jobs, {sum(finals.values())} final outcomes, max per job {max(finals.values())}")
PY
