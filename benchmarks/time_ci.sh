#!/usr/bin/env bash
# Time what CI runs (.ci/run) on a fresh clone of this repository's HEAD, and record it as
# benchmarks/results/ci-<date>T<hhmm>.json: wall time, hardware, commit, and each notebook's quick-mode seconds
# (the short runs of `make book-check`, which myst-nb times in the log: "<notebook>: Executed notebook in N seconds").
#     benchmarks/time_ci.sh            (VAEBOOK_DATA defaults to ../shared/data, as in .ci/run)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export VAEBOOK_DATA="${VAEBOOK_DATA:-$(cd "$repo/.." && pwd)/shared/data}"
git clone -q "$repo" "$work/main"
start=$(date +%s.%N)
if ! (cd "$work/main" && bash .ci/run) >"$work/ci.log" 2>&1; then
    tail -n 40 "$work/ci.log"
    echo "time_ci.sh: .ci/run failed on the fresh clone; nothing recorded." >&2
    exit 1
fi
end=$(date +%s.%N)
out="$repo/benchmarks/results/ci-$(date +%FT%H%M).json"  # sorts after that day's earlier records
# The clone's own venv (made by .ci/run) has the helpers package, whose cpu_name() names the CPU.
# The speed index (tools/execute.py's, timed right after the run) makes CI minutes of different days compare.
"$work/main/.venv/bin/python" - "$start" "$end" "$work/ci.log" "$out" \
    "$(git -C "$repo" rev-parse --short HEAD)" "$work/main/tools" <<'PY'
import datetime, json, os, re, sys
from pathlib import Path

import torch

from helpers.runtime import cpu_name

start, end, log, out, commit, tools = sys.argv[1:]
sys.path.insert(0, tools)
from execute import speed_index  # noqa: E402
model = cpu_name()
executed = r"/quick/chapters/(\S+\.ipynb): Executed notebook in ([\d.]+) seconds"
seconds = {name: float(s) for name, s in re.findall(executed, Path(log).read_text())}
if not seconds:
    sys.exit(f"time_ci.sh: no short runs timed in {log}; nothing recorded")
record = {
    "date": datetime.date.today().isoformat(),
    "hardware": f"{model}, {os.cpu_count()} cores, "
    + (torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"),
    "commit": commit,
    "command": "benchmarks/time_ci.sh (.ci/run on a fresh clone, venv and installs included)",
    "total_seconds": float(end) - float(start),
    "notebook_seconds": seconds,
    "notebooks_total_seconds": sum(seconds.values()),
    "speed_index": speed_index(),
}
Path(out).write_text(json.dumps(record, indent=2) + "\n")
print(f"CI took {record['total_seconds'] / 60:.1f} min; recorded in {out}")
PY
