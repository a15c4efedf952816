#!/usr/bin/env bash
# Runs a measurement with the machine's CPU given to it first:
#   tools/runbench.sh OUTFILE COMMAND [ARGS...]
# The command runs in a session of its own (so in its own scheduler
# autogroup, whose nice value is set to -19: between sessions Linux shares
# CPU by autogroup, and a plain `nice` only orders threads within one),
# renice'd to -19 (needs root), with TMPDIR on tmpfs (/dev/shm/bench) so
# spool fsyncs do not wait on a disk other work keeps busy. The load
# average at the start and the end is written to OUTFILE with the output,
# to be reported beside every figure.
out=$1; shift
mkdir -p /dev/shm/bench
setsid bash -c 'echo -19 > /proc/self/autogroup 2>/dev/null; renice -n -19 $$ >/dev/null 2>&1; export TMPDIR=/dev/shm/bench; echo "# start $(date -u +%T) load $(cut -d" " -f1-3 /proc/loadavg)"; "$@"; rc=$?; echo "# end $(date -u +%T) load $(cut -d" " -f1-3 /proc/loadavg) rc=$rc"; exit $rc' _ "$@" > "$out" 2>&1
