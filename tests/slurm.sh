#!/bin/bash
# slurm.sh: `backprop sweep --slurm` on a real single-node Slurm (issue 27).
#
# Brings up munged, slurmctld and slurmd (Debian's munge and slurm-wlm)
# with a configuration in a temporary folder (proctrack/linuxproc,
# task/none, select/cons_tres, no accounting), each started in the
# foreground of its own process and stopped by that process's id, and
# submits the scripts the generator writes, as a cluster user would:
#  - a sweep of 6 trials: every trial exactly once in the merged database,
#    which passes PRAGMA integrity_check, its losses those of the same sweep
#    run with -j 2 on this machine, to the bit; no -wal or -shm file in the
#    shard folder;
#  - the array submitted again after the node-local databases are gone:
#    every task says its trial is done and runs nothing; the generator has
#    nothing left to submit;
#  - a task cancelled mid-trial: the merge job (afterany) is not stuck and
#    reports the trial; the generator, --retry failed and --submit, runs it,
#    and every trial ends completed once;
#  - a TPE sweep in 3 rounds of 4 trials, each round proposed by the merge
#    job of the one before, completes: 12 trials, 12 settings.
# Where Slurm cannot start (not installed, no root, no daemon comes up), it
# exits 77, which ctest reports as skipped, with the reason; never passes.
set -u
BP=${BP_BINARY_DIR:?run through ctest}/backprop
SRC=${BP_SOURCE_DIR:?run through ctest}
# CI (BP_REQUIRE_SLURM=1) installs Slurm: there a skip is a failure.
skip() {
    echo "SKIPPED: $*"
    [ "${BP_REQUIRE_SLURM:-0}" = 1 ] && exit 1
    exit 77
}
fail() { echo "FAILED: $*"; FAILED=1; }
FAILED=0

for c in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo sqlite3; do
    command -v "$c" >/dev/null || skip "$c is not installed (setup.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" = 0 ] || skip "a single-node Slurm here needs root (slurmd runs jobs as their user)"

T=$(mktemp -d /tmp/bp_slurm_XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -f "$T/munged.pid" ] && kill "$(cat "$T/munged.pid")" 2>/dev/null
    if [ "$FAILED" = 0 ]; then rm -rf "$T"; else echo "kept: $T"; fi
}
trap cleanup EXIT

# munge: a key of its own, its socket in the folder.
mkdir -p "$T/munge" && chmod 700 "$T/munge"
head -c 1024 /dev/urandom > "$T/munge/munge.key" && chmod 400 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.sock" \
    --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed" \
    || skip "munged did not start: $(tail -3 "$T/munged.log" 2>/dev/null)"

HOST=$(hostname -s)
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<EOF
ClusterName=bptest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
PlugStackConfig=$T/plugstack.conf
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: > "$T/plugstack.conf"
export SLURM_CONF=$T/slurm.conf
slurmctld -D -f "$SLURM_CONF" > "$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" > "$T/slurmd.out" 2>&1 &
PIDS+=($!)
for i in $(seq 1 60); do
    state=$(sinfo -h -o %T 2>/dev/null)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "${state:-}" = idle ] || skip "Slurm did not come up (node: '${state:-}'):" \
    "$(tail -3 "$T/slurmctld.log" "$T/slurmd.log" 2>/dev/null)"
echo "slurm up: $(sinfo -h -o '%P %D %T %c')"

# Waits until none of the jobs named (ids) is pending or running.
await() {
    for i in $(seq 1 600); do
        [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    fail "jobs $1 still queued after 5 minutes: $(squeue -j "$1")"
}
# Submits with --submit and returns "ARRAY,MERGE" in JOBS.
submit() {
    out=$("$BP" sweep "$@" --submit) || { fail "sweep --submit $*: $out"; return 1; }
    echo "$out"
    JOBS=$(echo "$out" | sed -n 's/^submitted job array \([0-9]*\) and its merge, job \([0-9]*\)$/\1,\2/p')
    [ -n "$JOBS" ] || fail "no job ids in: $out"
}
q() { sqlite3 "$T/$1" "$2"; }

cd "$T"
cp "$SRC/scripts/sweep_xor.lua" xor.lua
SPEC="lr=0.1,0.5,2 hidden=2,4 steps=3000"
SW=(--slurm "$T/xor.sh" --db "$T/runs.db" --shard-dir "$T/shards" --time 00:05:00)

# 1. The whole sweep, submitted from another folder (the paths are absolute).
cd / && submit "${SW[@]}" "$T/xor.lua" $SPEC || exit 1
cd "$T"
await "$JOBS"
"$BP" sweep --db local.db -j 2 xor.lua $SPEC > /dev/null 2>&1 || fail "the local sweep"
[ "$(q runs.db "SELECT count(*), count(DISTINCT trial) FROM runs WHERE status = 'completed'")" = "6|6" ] \
    || fail "every trial once: $(q runs.db 'SELECT trial, status FROM runs')"
[ "$(q runs.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
same="SELECT t.trial, m.step, quote(m.value) FROM sweep_trials t JOIN metrics m ON m.run_id = t.run_id ORDER BY t.trial, m.name_id, m.step"
[ "$(q runs.db "$same" | md5sum)" = "$(q local.db "$same" | md5sum)" ] || fail "losses differ from -j 2's"
[ "$(q runs.db "$same" | wc -l)" -ge 18000 ] || fail "too few metric rows"
ls shards | grep -E -- '-(wal|shm)$' && fail "-wal or -shm files in the shard folder"
merge_log=$(ls shards/logs/xor-merge-*.out | head -1)
grep -q "6 done, 0 running" "$merge_log" || fail "the merge job's report: $(cat "$merge_log")"

# 2. Resubmitted after the node-local databases are gone: nothing runs.
before=$(q runs.db "SELECT count(*) FROM runs")
out=$("$BP" sweep "${SW[@]}" xor.lua $SPEC 2>&1)
echo "$out" | grep -q "nothing to run" || fail "the generator after a whole sweep: $out"
job=$(sbatch --parsable xor.sh | cut -d';' -f1)   # the old array, every task again
await "$job"
grep -q "is completed already" shards/logs/xor-"$job"_0.out || fail "task 0 ran again: $(cat shards/logs/xor-"$job"_0.out)"
"$BP" merge runs.db shards > /dev/null || fail "merge again"
[ "$(q runs.db "SELECT count(*) FROM runs")" = "$before" ] || fail "runs added by a resubmission"

# 3. A task cancelled mid-trial, then --retry failed.
cat > slow.lua <<'EOF'
local bp = require "backprop"
local x = bp.param("x", 1)
local net = bp.net(1):add(1, "identity")
-- trial 2 (x = 3) lasts 8 s whatever the machine's speed, so that the
-- cancel 1 s into it finds it running; the others a moment
local steps = x == 3 and 16 or 1
for s = 1, steps do
  local l = net:train_step({{1}}, {{2}}, "mse", 0.01)
  bp.log("loss", l, s)
  if x == 3 then os.execute("sleep 0.5") end
end
EOF
SW2=(--slurm "$T/slow.sh" --db "$T/slow.db" --shard-dir "$T/slowshards")
submit "${SW2[@]}" slow.lua x=1,2,3,4 || exit 1
array=${JOBS%,*}
for i in $(seq 1 120); do
    [ -n "$(ls slowshards/*-t2-*.running 2>/dev/null)" ] && break
    sleep 0.5
done
sleep 1
scancel "${array}_2"
await "$JOBS"
grep -q "1 stopped" slowshards/logs/slow-merge-*.out || fail "the merge job did not report the cancelled trial: $(cat slowshards/logs/slow-merge-*.out)"
"$BP" sweep status --db slow.db --shard-dir slowshards; [ $? = 2 ] || fail "status after a cancel"
submit "${SW2[@]}" --retry failed slow.lua x=1,2,3,4 || exit 1
grep -q -- '--array=2$' slow.sh || fail "the retry's array: $(grep array slow.sh)"
await "$JOBS"
"$BP" sweep status --db slow.db --shard-dir slowshards || fail "status after the retry"
[ "$(q slow.db "SELECT count(*), count(DISTINCT trial) FROM sweep_trials WHERE status = 'completed'")" = "4|4" ] \
    || fail "every trial completed once: $(q slow.db 'SELECT trial, status FROM runs')"
[ "$(q slow.db "SELECT count(*) FROM runs WHERE trial = 2")" = 2 ] \
    || fail "the cancelled attempt and the retry: $(q slow.db 'SELECT trial, status FROM runs')"

# 4. A model-based sweep in 3 rounds of 4: each round's merge job merges,
# proposes the next round from what is merged, and submits it.
cp "$SRC/tests/bowl.lua" bowl.lua
submit --slurm "$T/bowl.sh" --db "$T/bowl.db" --rounds 3 --per-round 4 --sampler tpe \
    bowl.lua x=uniform:-2:2 n=int:1:10 || exit 1
for i in $(seq 1 600); do
    [ -z "$(squeue -h -o %i)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -o %i)" ] || fail "the rounds' jobs still queued: $(squeue)"
"$BP" sweep status --db bowl.db --shard-dir shards || fail "status after 3 rounds"
[ "$(q bowl.db "SELECT count(*), count(DISTINCT trial), count(DISTINCT params) FROM sweep_trials WHERE status = 'completed'")" = "12|12|12" ] \
    || fail "3 rounds of 4: $(q bowl.db 'SELECT trial, status, params FROM sweep_trials')"
[ "$(ls shards/logs/bowl-merge-*.out | wc -l)" = 3 ] || fail "three merge jobs: $(ls shards/logs)"
[ "$(q bowl.db "SELECT spec FROM sweeps")" = "x=uniform:-2:2 n=int:1:10 --trials 12 --seed 1 --sampler tpe" ] \
    || fail "the sweep's spec: $(q bowl.db 'SELECT spec FROM sweeps')"

[ "$FAILED" = 0 ] && echo "slurm: all checks passed"
exit "$FAILED"
