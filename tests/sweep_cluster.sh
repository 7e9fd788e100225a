#!/bin/bash
# sweep_cluster.sh: a sweep run as a cluster runs it, without a cluster
# (issue 27): `sweep --parallel` and `--task`, `sweep status`, `merge` of a
# shard folder, every trial once, and reads that leave no -wal or -shm file.
# tests/slurm.sh runs the --slurm scripts on a real Slurm.
set -u
BP=${BP_BINARY_DIR:?run through ctest}/backprop
SRC=${BP_SOURCE_DIR:?run through ctest}
FAILED=0
fail() { echo "FAILED (line ${BASH_LINENO[0]}): $*"; FAILED=1; }
same() { [ "$1" = "$2" ] || { echo "FAILED (line ${BASH_LINENO[0]}): got [$1], want [$2]"; FAILED=1; }; }
T=$(mktemp -d /tmp/bp_cluster_XXXXXX)
trap '[ "$FAILED" = 0 ] && rm -rf "$T" || echo "kept: $T"' EXIT
cd "$T"
export TMPDIR=$T/node   # the node-local storage of the tasks
mkdir -p node
cp "$SRC/scripts/sweep_xor.lua" xor.lua
SPEC="lr=0.1,0.5 hidden=2,4 steps=500"
q() { sqlite3 "$1" "$2"; }
sides() { ls "$@" 2>/dev/null | grep -E -- '-(wal|shm)$'; }

# 1. --parallel writes the trials not done; the tasks, merged, are the sweep
# run on one machine with -j 2, to the bit.
out=$("$BP" sweep --parallel run.sh --db res/runs.db xor.lua $SPEC 2>err.txt)
same "$(cat err.txt)" "backprop: sweep $(sed -n 's/^# The 4 trials of sweep \([0-9a-f]*\).*/\1/p' run.sh): 4 of 4 trials to run (0 done, 0 running, 0 failed)"
same "$out" "wrote $T/run.sh
run: bash $T/run.sh [JOBS]
watch: backprop sweep status --db $T/res/runs.db --shard-dir $T/res/shards"
UID_=$(sed -n 's/^# The 4 trials of sweep \([0-9a-f]*\).*/\1/p' run.sh)
grep -q "^printf '%s\\\\n' 0 1 2 3 |$" run.sh || fail "the trials of run.sh: $(grep printf run.sh)"
bash run.sh 2 > run.out 2>&1; same "$?" 0
"$BP" sweep --db local.db -j 2 xor.lua $SPEC > /dev/null 2>&1
curves="SELECT t.trial, m.step, quote(m.value) FROM sweep_trials t JOIN metrics m ON m.run_id = t.run_id ORDER BY t.trial, m.name_id, m.step"
same "$(q res/runs.db "$curves" | md5sum)" "$(q local.db "$curves" | md5sum)"
same "$(q res/runs.db "SELECT count(*), count(DISTINCT trial) FROM runs")" "4|4"
same "$(ls node)" ""                                  # node-local databases removed
same "$(ls res/shards | grep -c "^$UID_-t[0-3]-.*\.db$")" 4
same "$(sides res/shards/*)" ""                       # merge and status left none
same "$(tail -1 run.out)" "sweep $UID_ (xor): 4 trials: 4 done, 0 running, 0 failed, 0 stopped, 0 pending; best loss $("$BP" query --db local.db --csv "SELECT printf('%.6g', min(objective)) FROM sweep_trials" | tail -1) (trial 3: lr=0.5 hidden=4 steps=500)"

# 2. Every trial once: nothing left to generate; a task of a done trial says
# so and runs nothing; query, merge, status leave no -wal or -shm.
out=$("$BP" sweep --parallel run.sh --db res/runs.db xor.lua $SPEC 2>/dev/null)
same "$out" "sweep $UID_: every trial is done or running: nothing to run"
rm -rf res/shards
out=$("$BP" sweep --task 2 --db res/runs.db xor.lua $SPEC); same "$?" 0
same "$out" "sweep $UID_: trial 2 is completed already (in res/runs.db); not run again"
same "$(ls res)" "runs.db
runs.db-lock"
"$BP" query --db res/runs.db "SELECT 1" > /dev/null
"$BP" sweep status --db res/runs.db > /dev/null; same "$?" 0
"$BP" merge m.db res/runs.db > /dev/null
same "$(sides res/*)" ""

# 3. A trial run twice (two nodes): merge keeps one, notes the other.
"$BP" sweep --trial 0 --db a.db xor.lua $SPEC > /dev/null 2>&1
"$BP" sweep --trial 0 --db b.db xor.lua $SPEC > /dev/null 2>&1
"$BP" merge d.db a.db > /dev/null
same "$("$BP" merge d.db b.db)" "b.db: 0 runs and 0 sweeps merged into d.db; 1 duplicate attempt of completed trials noted, not merged"
same "$("$BP" merge d.db b.db)" "b.db: 0 runs and 0 sweeps merged into d.db"
same "$(q d.db "SELECT count(*) FROM runs")" 1
same "$(q d.db "SELECT count(*) FROM notes WHERE text LIKE 'duplicate attempt of trial 0: run ' || (SELECT uid FROM runs LIMIT 1 OFFSET 0) || '%'")" 0
same "$(q d.db "SELECT substr(text, 1, 34) FROM notes")" "duplicate attempt of trial 0: run "
same "$(sides a.db b.db)" ""

# 4. A trial that fails: its task exits 1 and says so; status lists it;
# the generator leaves it out unless --retry failed.
cat > half.lua <<'EOF'
local bp = require "backprop"
local x = bp.param("x", 1)
if x == 2 then error("x = 2 is refused") end
bp.log("loss", x, 1)
EOF
"$BP" sweep --task 0 --db h.db half.lua x=1,2,3 > /dev/null 2>&1; same "$?" 0
"$BP" sweep --task 1 --db h.db half.lua x=1,2,3 > /dev/null 2>task.err; same "$?" 1
grep -q "^backprop: sweep [0-9a-f]*: trial 1 failed (its database: shards/[0-9a-f]*-t1-.*\.db)$" task.err || fail "$(cat task.err)"
out=$("$BP" sweep status --db h.db); same "$?" 2
same "$(echo "$out" | sed 's/^sweep [0-9a-f]* //')" "(half): 3 trials: 1 done, 0 running, 1 failed, 0 stopped, 1 pending; best loss 1 (trial 0: x=1)
  failed or diverged: 1
  pending: 2"
"$BP" sweep --slurm h.sh --db h.db --throttle 4 --partition p half.lua x=1,2,3 > /dev/null 2>&1
same "$(grep -- --array h.sh)" "#SBATCH --array=2%4"
"$BP" sweep --slurm h.sh --db h.db --retry failed half.lua x=1,2,3 > /dev/null 2>&1
same "$(grep -- --array h.sh)" "#SBATCH --array=1-2"
grep -q "^#SBATCH --dependency\|afterany:\$jid $T/h-merge.sh$" h.sh || fail "$(head -3 h.sh)"
grep -q "^exec $BP sweep --task \"\$SLURM_ARRAY_TASK_ID\" --db $T/h.db --shard-dir $T/shards" h.sh || fail "$(tail -2 h.sh)"

# 5. --plan leaves a variable in --shard-db to the shell where it runs.
line=$("$BP" sweep --plan --shard-db '$TMPDIR/s-%d.db' xor.lua lr=0.1 | head -1)
same "$line" "$BP sweep --trial 0 --db \"\$TMPDIR/s-0.db\" --objective min:loss --seed 1 xor.lua lr=0.1"

# 6. Pruning with nothing to compare with says so.
"$BP" sweep --trial 0 --db p.db --prune median xor.lua lr=0.1,0.2 2>&1 >/dev/null | head -1 > w.txt
same "$(cat w.txt)" "backprop: warning: --prune median:3:startup=5 has no reference in p.db (0 completed trials of the sweep, the rule needs 5): nothing can be pruned; the other shards' curves are not in it"

# 7. A model-based sweep in rounds: a round's tasks run the settings its
# script carries; the next round is proposed from what is merged.
cp "$SRC/tests/bowl.lua" bowl.lua
R=(--slurm "$T/b.sh" --db "$T/b.db" --rounds 2 --per-round 3 --sampler tpe bowl.lua x=uniform:-2:2 n=int:1:10)
"$BP" sweep "${R[@]}" > /dev/null 2>e.txt; same "$?" 0
same "$(grep -c '^[0-2]) SET=' b.sh)" 3
same "$(grep -- --array b.sh)" "#SBATCH --array=0-2"
BU=$(sed -n 's/^# The 3 trials of sweep \([0-9a-f]*\).*/\1/p' b.sh)
for i in 0 1; do SLURM_ARRAY_TASK_ID=$i bash b.sh > /dev/null 2>&1 || fail "round 1 task $i"; done
want=$(sed -n "s/^1) SET='\(.*\)' ;;$/\1/p" b.sh)
"$BP" sweep "${R[@]}" --after-round 0 > /dev/null 2>e.txt; same "$?" 2
same "$(cat e.txt)" "backprop: sweep $BU: round 1 did not complete: not going on to the next (run the same --slurm command for its trials)"
SLURM_ARRAY_TASK_ID=2 bash b.sh > /dev/null 2>&1 || fail "round 1 task 2"
"$BP" sweep "${R[@]}" --after-round 0 > /dev/null 2>e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: sweep $BU: 3 completed trials are in $T/shards not merged into $T/b.db yet; the next round is proposed from what is merged: backprop merge $T/b.db $T/shards/$BU-t*.db"
bash -c "$(sed -n '/^shopt/,/|| exit 1$/p' b-merge.sh)" > /dev/null || fail "the merge lines"
same "$(q b.db "SELECT params FROM sweep_trials WHERE trial = 1")" "$want"
"$BP" sweep "${R[@]}" --after-round 0 > /dev/null 2>e.txt; same "$?" 0
same "$(grep -- --array b.sh)" "#SBATCH --array=3-5"
grep -q "^cd $T && $BP sweep --slurm $T/b.sh .* --after-round 1 --submit$" b-merge.sh && fail "the last round chains another"
"$BP" sweep --task 0 --setting 'x=1' --db s.db --trials 2 --sampler tpe bowl.lua x=uniform:0:1 n=int:1:2 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: --setting 'x=1': no value of n"
# a conditional parameter (n?=) may be absent from a setting: a trial that did not read it
"$BP" sweep --task 0 --setting 'x=0.5' --db s2.db --shard-dir "$T/s2" --trials 2 --sampler tpe bowl.lua x=uniform:0:1 'n?=int:1:2' > /dev/null 2>e.txt; same "$?" 0
same "$(q "$(ls "$T"/s2/*-t0-*.db)" "SELECT params FROM sweep_trials")" "x=0.5 n=1"
"$BP" sweep --slurm x.sh --rounds 2 bowl.lua x=1 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: sweep: --rounds R and --per-round K go together, with --slurm"

# 7b. Rounds of a sweep whose space the script declares (bp.suggest), with
# no parameter on the command line: the first round's tasks draw their
# names themselves; the next round is TPE's proposal of those names, from
# the space merged with the trials, and its tasks run it as given.
cat > bowls.lua <<'LUA'
local bp = require "backprop"
local x = bp.suggest("x", "uniform:-2:2", 0.0)
local n = bp.suggest("n", "int:1:10", 1)
bp.log("loss", (x - 0.3)^2 + 0.1 * (n - 7)^2, 1)
LUA
S=(--slurm "$T/s.sh" --db "$T/sb.db" --rounds 2 --per-round 10 --sampler tpe bowls.lua)
"$BP" sweep "${S[@]}" > /dev/null 2>e.txt; same "$?" 0
same "$(grep -c "^[0-9]) SET='' ;;$" s.sh)" 10
for i in 0 1 2 3 4 5 6 7 8 9; do SLURM_ARRAY_TASK_ID=$i bash s.sh > /dev/null 2>&1 || fail "round 1 task $i"; done
bash -c "$(sed -n '/^shopt/,/|| exit 1$/p' s-merge.sh)" > /dev/null || fail "the merge lines of s"
"$BP" sweep "${S[@]}" --after-round 0 > /dev/null 2>e.txt; same "$?" 0
same "$(grep -cE "^1[0-9]\) SET='x=[-0-9.e]+ n=([1-9]|10)' ;;$" s.sh)" 10
want=$(sed -n "s/^13) SET='\(.*\)' ;;$/\1/p" s.sh)
SLURM_ARRAY_TASK_ID=13 bash s.sh > /dev/null 2>&1 || fail "round 2 task 13"
bash -c "$(sed -n '/^shopt/,/|| exit 1$/p' s-merge.sh)" > /dev/null || fail "the merge lines of s"
same "$(q sb.db "SELECT params FROM sweep_trials WHERE trial = 13")" "$want"

# 8. Mistakes.
"$BP" sweep --partition p xor.lua lr=0.1 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: sweep: --partition, --time, --cpus-per-task, --mem, --account, --sbatch, --throttle, --submit and --retry go with --slurm or --parallel"
"$BP" sweep --slurm x.sh --plan xor.lua lr=0.1 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: sweep: --plan, --trial, --task, --slurm and --parallel are modes of their own: give one of them"
"$BP" sweep --slurm x.sh --retry all xor.lua lr=0.1 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: sweep: --retry wants 'failed', not 'all'"
"$BP" sweep status --db none.db --shard-dir none 2> e.txt; same "$?" 1
same "$(cat e.txt)" "backprop: no sweep in none.db nor in none"

[ "$FAILED" = 0 ] && echo "sweep_cluster: all checks passed"
exit "$FAILED"
