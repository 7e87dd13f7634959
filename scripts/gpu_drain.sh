#!/usr/bin/env bash
# Train queued runs on a lent CUDA machine, a few side by side, and bring their records back in one file.
#
# Here, once per session (the device image lacks Dask; the wheels travel with the call):
#     scripts/gpu_drain.sh --fetch-wheels
# Then, as the device tool's command, carrying .whl (carry: [".whl"]):
#     SEQREC_GIT_COMMIT=<HEAD> scripts/gpu_drain.sh SECONDS "QUEUE" ["QUEUE" ...]
# Each QUEUE is the argument list of one `python -m seqrec` call, e.g.
#     "reproduce --chapter samrec --jobs 3"  or  "train --dataset Beauty --seed 2 3 --set bucket=false --jobs 1"
# A lent GPU's one call for the SAMRec chapter (the chapter's missing runs in its order, three side by side):
#     SEQREC_GIT_COMMIT=$(git rev-parse HEAD) scripts/gpu_drain.sh 520 "reproduce --chapter samrec --jobs 3"
# (checked here on the CPU with DEVICE=cpu and PATH=.venv/bin:$PATH: records and S3Rec weights come back packed).
# Every queue runs at once with --device cuda; a run that already has a record in results/ is skipped.
# Measured on an H200 (2026-11-27): two SASRec runs side by side train at about 1.3 s per epoch each, but
# ten side by side finished none in 430 s (the GPU time-slices between processes): keep the sum of --jobs <= 3.
# After SECONDS the queues get SIGINT (their workers stop), so there is always time to pack. New records and the
# log come back as $OUT/records.tgz and $OUT/drain.log; unpack with `tar xzf records.tgz` in the repository root.
set -uo pipefail
if [ "${1:-}" = "--fetch-wheels" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    dask==2026.8.0 distributed==2026.8.0 locket==1.0.0 partd==1.4.2 tblib==3.2.2 tornado==6.6.1 zict==3.0.0
  grep -qs "^/.whl/" .git/info/exclude || echo /.whl/ >> .git/info/exclude
  exit
fi
budget=$1; shift
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/lib:${PYTHONPATH:-} PYTHONUNBUFFERED=1 SEQREC_CACHE=/tmp/seqrec-cache
marker=$(mktemp); sleep 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/drain.log"
python3 -m pytest -q -p no:cacheprovider tests/unit/test_gpu.py 2>&1 | tail -3 | tee -a "$OUT/drain.log"
pids=()
for queue in "$@"; do
  # shellcheck disable=SC2086
  timeout --signal=INT --kill-after=30 "$budget" python3 -m seqrec $queue --device "${DEVICE:-cuda}" \
      >>"$OUT/drain.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
python3 -m seqrec park >>"$OUT/drain.log" 2>&1  # an unfinished pre-training comes back as <run>.checkpoint.pt.xz
new=$(find results \( -name '*.jsonl' -o -name '*.pt.xz' \) -newer "$marker")
echo "new records:" $new | tee -a "$OUT/drain.log"
[ -n "$new" ] && tar czf "$OUT/records.tgz" $new
exit 0
