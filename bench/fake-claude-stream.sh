#!/bin/sh
# The Claude CLI's stand-in for `npm run bench -- cluster`: the job's stream-json comes from a FIFO the bench writes
# (its path is in the prompt, "fifo=<path>"), so 150 jobs cost this machine 150 idle `cat`s, not 150 Node processes,
# the way a job on Modal costs the server only the stream it receives (bench/cluster.ts says more).
prompt=''
while [ $# -gt 0 ]; do
  if [ "$1" = -p ]; then prompt=$2; fi
  shift
done
fifo=${prompt#*fifo=}
fifo=${fifo%%[[:space:]]*}
exec /bin/cat "$fifo"
