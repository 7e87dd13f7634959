#!/usr/bin/env bash
# Train queued runs on a lent CUDA machine, many side by side, and bring their records back in one file.
#
#   usage (on the device machine, in the repository root): scripts/gpu_drain.sh SECONDS "QUEUE" ["QUEUE" ...]
#   each QUEUE is the argument list of one `python -m seqrec train` call, e.g. "--dataset Beauty --seed 4 5 --jobs 2"
#
# Every queue runs at once with --device cuda; a run that already has a record in results/ is skipped.
# After SECONDS the queues are stopped, so there is always time to pack. New records and the log end up in
# $OUT/records.tgz and $OUT/drain.log; unpack with `tar xzf records.tgz` in the repository root.
set -uo pipefail
budget=$1; shift
export PYTHONPATH=$PWD/lib PYTHONUNBUFFERED=1 SEQREC_CACHE=/tmp/seqrec-cache
# the copy on the device has no .git: name the commit (set SEQREC_GIT_COMMIT=$(git rev-parse HEAD) in the call)
marker=$(mktemp); sleep 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/drain.log"
python3 -m pytest -q -p no:cacheprovider tests/unit/test_gpu.py 2>&1 | tail -3 | tee -a "$OUT/drain.log"
pids=()
for queue in "$@"; do
  # shellcheck disable=SC2086
  timeout --signal=INT --kill-after=20 "$budget" python3 -m seqrec train --device "${DEVICE:-cuda}" $queue \
      >>"$OUT/drain.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
pkill -f "seqrec train|multiprocessing" || true
new=$(find results -name '*.jsonl' -newer "$marker")
echo "new records:" $new | tee -a "$OUT/drain.log"
[ -n "$new" ] && tar czf "$OUT/records.tgz" $new
exit 0
