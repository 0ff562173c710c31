#!/bin/bash
# restart_rank.sh: runs one rank of an elastic Crosslink job and starts it again when it dies, for
# launchers that do not restart a single rank themselves (Slurm's srun, torchrun with
# --max-restarts 0, mpirun). crosslink-run --max-restarts does the same inside the launcher.
#
#   restart_rank.sh [--max-restarts K] [--backoff-s S] -- PROGRAM [ARGS...]
#
# The first process gets CROSSLINK_RESTART_COUNT=0, the n-th restart n: a process started with
# n > 0 rejoins the job (Communicator: CommunicatorOptions::rejoin) and receives the live ranks'
# training state at their next step boundary. CROSSLINK_ELASTIC=1 is set for the program. The
# wrapper restarts after a non-zero exit or a signal, up to K times (default 3), after a backoff of
# S seconds (default 1) doubling up to 8 s: the coordinator needs its heartbeat timeout (3 s by
# default) to declare the old process dead before the new one is admitted (the rejoin retries
# meanwhile). SIGTERM/SIGINT to the wrapper are passed to the rank and end the loop.
# Exit status: 0 when the rank exits 0, else its last status (128+signal when killed).
set -u
max_restarts=3
backoff_s=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-restarts) max_restarts="$2"; shift 2 ;;
    --backoff-s) backoff_s="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "restart_rank.sh: unknown argument $1 (usage: restart_rank.sh [--max-restarts K] [--backoff-s S] -- PROGRAM ...)" >&2; exit 2 ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "restart_rank.sh: no program given" >&2
  exit 2
fi
if ! [[ "$max_restarts" =~ ^[0-9]+$ && "$backoff_s" =~ ^[0-9]+$ ]]; then
  echo "restart_rank.sh: --max-restarts and --backoff-s take whole numbers" >&2
  exit 2
fi

child=0
stopping=0
forward() { stopping=1; [[ $child -gt 0 ]] && kill -TERM "$child" 2>/dev/null; }
trap forward TERM INT

export CROSSLINK_ELASTIC=1
rank="${RANK:-${SLURM_PROCID:-${OMPI_COMM_WORLD_RANK:-?}}}"
restarts=0
delay=$backoff_s
while true; do
  CROSSLINK_RESTART_COUNT=$restarts "$@" &
  child=$!
  wait "$child"
  rc=$?
  # A trapped signal interrupts wait: wait again for the rank's own status.
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  child=0
  if [[ $rc -eq 0 || $stopping -eq 1 ]]; then exit "$rc"; fi
  if [[ $restarts -ge $max_restarts ]]; then
    echo "restart_rank.sh: rank $rank failed (status $rc) after $restarts restarts; giving up" >&2
    exit "$rc"
  fi
  restarts=$((restarts + 1))
  echo "restart_rank.sh: rank $rank failed (status $rc); restarting it ($restarts of $max_restarts) in ${delay} s" >&2
  sleep "$delay"
  delay=$((delay * 2 > 8 ? 8 : delay * 2))
done
