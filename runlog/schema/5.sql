-- 5.sql: schema version 5 (step 4 -> 5): how a run's or a sweep's process
-- is known to be alive (runlog/liveness.c), and when a resume took a run.
--
-- While its process runs it, a run holds a lock on byte `id` of the file
-- beside the database named as it with '-lock' added (a sweep, byte 2^62 +
-- id), which the kernel drops when the process ends, in whatever PID
-- namespace it ran. `boot` says which kernel holds that lock; a row without
-- it (recorded before this version, or where no lock could be had) is
-- judged as before, by host, pid and start time.

ALTER TABLE runs ADD COLUMN claimed REAL;
  -- when the process running it now took it (`run --resume`); NULL: the
  -- process that began it
ALTER TABLE runs ADD COLUMN boot TEXT;
  -- the boot id of the kernel whose lock says its process is alive
  -- (/proc/sys/kernel/random/boot_id); NULL: no lock
ALTER TABLE sweeps ADD COLUMN boot TEXT; -- the same, for its supervisor
