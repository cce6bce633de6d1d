#!/bin/bash
# Trains config/ptb.yaml's runs in a chosen order (issue 25's campaign), resumably:
# PTB_WORKERS workers (default 1, with 2 TensorFlow threads; 2 workers get 1 thread each)
# take runs from one ordered queue, each by creating its claim folder (mkdir is atomic),
# and train and evaluate it with Snakemake. Rerunning the script resumes: claims are reset,
# finished runs are skipped by Snakemake in seconds, a killed run resumes from its resume
# state (--rerun-incomplete keeps resume/, which is no declared output). li2019_8 trains
# its autoencoder run (pretrain/) first.
#
#   PATH=$PWD/.venv/bin:$PATH VAE_TFP_DATA_CACHE=/path/to/cache \
#     nohup setsid nice -n 5 tools/ptb_queue.sh > ptb-queue.log 2>&1 &
#   sleep 10; echo 5 > /proc/$(pgrep -f ptb_queue.sh | head -1)/autogroup
#
# PTB_SRC (default: this checkout) is the code version every run trains at: a worktree at a
# fixed commit keeps it fixed while the checkout moves on. Its results/ptb-li2019 may be a
# symlink to a folder outside the work tree. PTB_QUEUE overrides the order, PTB_SNAKEMAKE
# the snakemake command (a fake one for a dry test), PTB_STATE the folder of the claims and
# the workers' Snakemake logs (default: results/ptb-li2019/queue under PTB_SRC), PTB_STAGGER
# the seconds between the two workers' starts (default 30). A run that already has a record
# in PTB_RECORDS (default: records/ptb-li2019 of the checkout this script is in), evaluated
# on another machine, is skipped.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "${PTB_SRC:-$HERE}" && pwd)
RECORDS=${PTB_RECORDS:-$HERE/records/ptb-li2019}
R=results/ptb-li2019/runs/ptb/lstm_256
STATE=${PTB_STATE:-$SRC/results/ptb-li2019/queue}
ORDER=${PTB_QUEUE:-"vanilla/seed0 anneal_10ep/seed0 cyclical/seed0 li2019_8/seed0 aggressive_anneal/seed0 vanilla/seed1 li2019_8/seed1"}
SNAKEMAKE=${PTB_SNAKEMAKE:-snakemake}
WORKERS=${PTB_WORKERS:-1}
THREADS=$((2 / WORKERS))
cd "$SRC" || exit 1
rm -rf "$STATE/claims" && mkdir -p "$STATE/claims"
worker() {
  for run in $ORDER; do
    mkdir "$STATE/claims/${run//\//_}" 2>/dev/null || continue
    if [ -f "$RECORDS/runs/ptb/lstm_256/$run/metrics.json" ]; then
      echo "$(date -u +%FT%TZ) worker $1 skips $run: recorded in $RECORDS"
      continue
    fi
    echo "$(date -u +%FT%TZ) worker $1 takes $run"
    $SNAKEMAKE --cores "$THREADS" --nolock --rerun-incomplete --configfile config/ptb.yaml \
      --config threads="$THREADS" -- "$R/$run/metrics.json" >> "$STATE/worker$1.log" 2>&1
    echo "$(date -u +%FT%TZ) worker $1 ends $run: exit $?"
  done
}
# the shared data preparation once, before two Snakemake processes could both start it
$SNAKEMAKE --cores 1 --nolock --configfile config/ptb.yaml --until prepare -- \
  "$R/${ORDER%% *}/metrics.json" >> "$STATE/worker1.log" 2>&1
worker 1 &
if [ "$WORKERS" = 2 ]; then sleep "${PTB_STAGGER:-30}"; worker 2 & fi
wait
