#!/usr/bin/env python3
"""The Claude CLI's stand-in for `npm run bench -- cluster`: hands its stdout (the pipe the server reads) to the bench's
model process (bench/fake-model.py, whose socket and this job's number are in the prompt, "model=<path> job=<n>") and
waits until the model has written the whole stream and lets it go. Idle while the job streams, as a job on Modal
costs the server machine nothing but the stream it receives (bench/cluster.ts says more)."""
import os
import re
import socket
import sys

args = sys.argv[1:]
prompt = args[args.index("-p") + 1] if "-p" in args else ""
found = re.search(r"model=(\S+) job=(\d+)", prompt)
if not found:
    sys.exit("fake-claude-stream: no model=<socket> job=<n> in the prompt")
with open("/proc/self/comm", "w") as comm:
    comm.write("fake-claude")  # how the bench tells these processes' CPU apart
control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
control.connect(found.group(1))
socket.send_fds(control, [f"{found.group(2)}\n".encode()], [1])
# The model holds the stream now: the server sees its end when the model closes it, not when this process lets go.
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 1)
control.recv(1)  # returns once the model closes the connection, after the result line
