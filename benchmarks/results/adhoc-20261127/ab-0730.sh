#!/usr/bin/env bash
# Interleaved A/B of the ingestion's variants (ad hoc, 27 Nov 07:30-08:05; not part of `make bench`).
#
#   WT=<checkout with variants-0730.patch applied> PY=<venv python> DROP=<SCALE=10 drop> \
#     ab-0730.sh ROUNDS "ENV1" "ENV2" ...
#
# Each round: one 1-worker ingestion, then one 2-worker ingestion per ENV (e.g. X=1 for the code
# as committed, EXP_NICE=10, "EXP_NICE=10 EXP_TAIL=4"), each into a fresh DuckDB file, with
# benchmarks/ingest_only.py (its own clock, imports excluded). Prints one line of seconds per
# round, then per variant: the median of the rounds' ratios, the ratio of the medians, and the
# best-of ratio (the bench's way).
cd "$WT" || exit 1
R=$1; shift
run() { W=$1; shift; env PYTHONPATH="$WT" "$@" "$PY" benchmarks/ingest_only.py "$DROP" /tmp/ab.duckdb --workers "$W" 2>/dev/null | python3 -c "import json,sys; print(round(json.load(sys.stdin)['seconds'],3))"; rm -f /tmp/ab.duckdb*; }
for i in $(seq "$R"); do
  line=$(run 1 X=1)
  for e in "$@"; do line="$line $(run 2 $e)"; done
  echo $line
done | tee /tmp/ab-last.txt
python3 - <<'PY'
import statistics as st
rows = [list(map(float, l.split())) for l in open("/tmp/ab-last.txt")]
for j in range(1, len(rows[0])):
    print(f"col{j}: median ratio {st.median(x[0] / x[j] for x in rows):.3f}  "
          f"ratio of medians {st.median(x[0] for x in rows) / st.median(x[j] for x in rows):.3f}  "
          f"min-based {min(x[0] for x in rows) / min(x[j] for x in rows):.3f}")
PY
