#!/bin/bash
# Starts or resumes the Penn Treebank campaign (issue 25) in the background, at low priority,
# on this machine, and prints where its runs stand; run it from any checkout of main, first
# thing in a session (a session's processes end within hours of its stop). It
#   - trains at the commit of records/ptb-li2019/COMMIT (the code version every run of the
#     campaign trains at): in a git worktree of this repository already at that commit, else
#     in a new one, PTB_HOME/ptb-src-<commit>;
#   - keeps the outputs in PTB_HOME/ptb-li2019, outside the work trees, symlinked as
#     results/ptb-li2019 in that worktree and in this checkout;
#   - starts tools/ptb_queue.sh (one run at a time, 2 threads; runs recorded in
#     records/ptb-li2019 skipped) under setsid with its scheduling group's nice value at 5,
#     unless it is running already.
# PTB_HOME defaults to /work/runs; VAE_TFP_DATA_CACHE is passed on (default: ../shared/data
# beside this checkout, if there).
#
#   tools/ptb_campaign.sh            # start or resume, then the status
#   tools/ptb_campaign.sh status     # the status only
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
PTB_HOME=${PTB_HOME:-/work/runs}
COMMIT=$(tr -d '[:space:]' < "$HERE/records/ptb-li2019/COMMIT")
SRC=$(git -C "$HERE" worktree list --porcelain | awk -v commit="$COMMIT" -v here="$HERE" \
  '/^worktree /{tree=substr($0, 10)} /^HEAD /{if ($2 == commit && tree != here) print tree}' |
  head -1)
SRC=${SRC:-$PTB_HOME/ptb-src-${COMMIT:0:7}}
OUT=$PTB_HOME/ptb-li2019
DRIVER=$(pgrep -f "tools/ptb_queue.sh" | head -1 || true)

status() {
  echo "campaign code: $COMMIT ($SRC); outputs: $OUT"
  echo "driver: ${DRIVER:-not running}"
  for log in "$OUT"/runs/ptb/lstm_256/*/seed*/train.log; do
    [ -f "$log" ] || continue
    run=${log#"$OUT"/runs/ptb/lstm_256/}
    echo "${run%/train.log}: $(grep -o 'epoch [0-9]*/[0-9]*.*valid elbo [-0-9.]*' "$log" | tail -1)"
    saved=$(ls -t "${log%/train.log}"/resume/state-*.json 2>/dev/null | head -1)
    # a session that stops just after a resume save loses almost no training
    if [ -n "$saved" ]; then
      echo "  last resume save: $(date -u -r "$saved" +%FT%TZ) ($(basename "$saved"))"
    fi
  done
}

if [ "${1:-start}" = status ] || [ -n "$DRIVER" ]; then
  status
  exit 0
fi
[ -x "$HERE/.venv/bin/snakemake" ] || make -C "$HERE" venv
[ -d "$SRC" ] || git -C "$HERE" worktree add --detach "$SRC" "$COMMIT"
mkdir -p "$OUT"
[ -e "$SRC/results/ptb-li2019" ] || ln -s "$OUT" "$SRC/results/ptb-li2019"
ln -sfn "$OUT" "$HERE/results/ptb-li2019"
if [ -z "${VAE_TFP_DATA_CACHE:-}" ] && [ -d "$HERE/../shared/data" ]; then
  VAE_TFP_DATA_CACHE=$(cd "$HERE/../shared/data" && pwd)
fi
export VAE_TFP_DATA_CACHE PTB_SRC=$SRC PATH=$HERE/.venv/bin:$PATH
# setsid starts a new scheduling group (autogroup), whose own nice value sets its share.
nohup setsid nice -n 5 "$HERE/tools/ptb_queue.sh" >> "$PTB_HOME/ptb.log" 2>&1 < /dev/null &
sleep 2
DRIVER=$(pgrep -f "tools/ptb_queue.sh" | head -1)
echo 5 > "/proc/$DRIVER/autogroup"
status
