# Shared by the sbatch recipes (sourced, not run): the shared run directory, the checkpoint
# directory on it, the host list in fleet order, and the requeue-on-failure rule.
#
# TANGRAM_SHARED must be a directory every node sees (NFS, Lustre, a PVC...): checkpoints are
# written by the ranks of replica 0 on whichever nodes hold them and committed by rank 0, and a
# requeued job resumes from them, possibly on other nodes. Default: the submit directory.
set -euo pipefail
job="${TANGRAM_JOB:?set TANGRAM_JOB to the job file, e.g. configs/jobs/cluster-cpu-2x8.yaml}"
shared="${TANGRAM_SHARED:-$SLURM_SUBMIT_DIR/tangram-runs}"
name="$(basename "$job" .yaml)"
checkpoints="$shared/$name/checkpoints"
mkdir -p "$checkpoints"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# The allocation's nodes, in Slurm's order, name the fleet's nodes in fleet order: rank i then
# lands on the node of fleet device i (`tangram hostfile`, docs/cluster.md).
nodes="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | paste -sd, -)"
# --auto-resume: the first run starts at step 0, a requeued one from the newest committed
# checkpoint. A failed or hung rank ends the whole job within --timeout (+ a few seconds).
train_flags=(train --job "$job" --transport mpi --checkpoint-dir "$checkpoints" --auto-resume
             --timeout "${TANGRAM_TIMEOUT:-120}"
             --metrics "$shared/$name/metrics.jsonl")

# run_forwarding_usr1 CMD...: runs CMD in the background and passes SIGUSR1 on to it. With
# `#SBATCH --signal=B:USR1@120` Slurm sends it to this script 120 s before the time limit (and
# before a preemption, with a preempt grace time); mpirun forwards it to every rank, which stop
# after a common step with a checkpoint and exit 3; the job is then requeued.
run_forwarding_usr1() {
  "$@" &
  local pid=$! rc
  trap 'kill -USR1 "$pid" 2>/dev/null' USR1
  while :; do
    wait "$pid"; rc=$?
    # wait returns > 128 when a trapped signal interrupts it; the child is then still running.
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    return "$rc"
  done
}

# After a failure, requeue (Slurm starts the job again, on healthy nodes, when they are free) up
# to TANGRAM_MAX_RESTARTS times; the next run resumes from the last committed checkpoint. A usage
# or configuration error (exit 2) is not retried.
requeue_or_fail() {
  local rc=$1
  [ "$rc" -eq 0 ] && return 0
  if [ "$rc" -eq 3 ]; then  # stopped on SIGUSR1 with a checkpoint: continue in a new allocation
    echo "tangram stopped on request: requeueing job $SLURM_JOB_ID to continue"
    scontrol requeue "$SLURM_JOB_ID"
    return 0
  fi
  if [ "$rc" -ne 2 ] && [ "${SLURM_RESTART_COUNT:-0}" -lt "${TANGRAM_MAX_RESTARTS:-3}" ]; then
    echo "tangram exited $rc: requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0})"
    scontrol requeue "$SLURM_JOB_ID"
  fi
  return "$rc"
}
