#!/bin/bash
# kill_during_training.sh: runs a crosslink-run job and kills one of its ranks with SIGKILL while
# it trains, to see an elastic job (--elastic, crosslink-run --max-restarts) lose the rank, take
# the restarted process back and finish.
#
#   examples/elastic/kill_during_training.sh [--rank R[,R2...]] [--kills N] [--after S] \
#       [--every S] -- crosslink-run -n 4 --max-restarts 3 [...] -- build/bin/train_fashion_mnist --elastic ...
#
# Kills rank R (default 1) N times (default 2): the first S seconds (default 20) after the job
# started, each later one S2 seconds (--every, default 20) after the previous kill, once the
# restarted process of the rank runs again. A list (--rank 1,2,3) takes its ranks in turn, one
# per kill, round and round (a long run then meets deaths of different ranks). The rank's process is the launcher's child whose
# environment holds RANK=R (crosslink-run starts each rank as its own process). Prints
# "kill_during_training: killed rank R (pid P) at T s" on stderr per kill, and exits with the
# launcher's status. The first kill must fall after every rank joined the job: a death during
# the rendezvous aborts the job's start (pick --after above the ranks' start-up time).
set -u
rank=1
kills=2
after_s=20
every_s=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rank) rank="$2"; shift 2 ;;
    --kills) kills="$2"; shift 2 ;;
    --after) after_s="$2"; shift 2 ;;
    --every) every_s="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "kill_during_training.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "kill_during_training.sh: no launcher command given (-- crosslink-run ...)" >&2
  exit 2
fi

"$@" &
launcher=$!
trap 'kill -TERM "$launcher" 2>/dev/null' INT TERM
start=$(date +%s.%N)

# The pid of the launcher's child with RANK=$rank in its environment, or nothing.
rank_pid() {
  local pid
  for pid in $(pgrep -P "$launcher"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=$rank"; then
      echo "$pid"
      return
    fi
  done
}

IFS=, read -r -a victims <<<"$rank"
for r in "${victims[@]}"; do
  if ! [[ "$r" =~ ^[0-9]+$ ]]; then
    echo "kill_during_training.sh: --rank takes ranks separated by commas, got '$rank'" >&2
    exit 2
  fi
done

wait_s=$after_s
for ((k = 1; k <= kills; k++)); do
  sleep "$wait_s"
  rank=${victims[$(((k - 1) % ${#victims[@]}))]}
  pid=""
  # A restarted rank may still be in its backoff: wait (at most 60 s) until it runs.
  for ((i = 0; i < 600; i++)); do
    kill -0 "$launcher" 2>/dev/null || break
    pid=$(rank_pid)
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  if [[ -z "$pid" ]]; then
    echo "kill_during_training: rank $rank is not running (the job ended?); kill $k not done" >&2
    break
  fi
  kill -KILL "$pid" 2>/dev/null &&
    echo "kill_during_training: killed rank $rank (pid $pid) at $(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f", a - b }') s" >&2
  wait_s=$every_s
done
wait "$launcher"
