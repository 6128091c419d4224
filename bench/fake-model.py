#!/usr/bin/env python3
"""The model side of `npm run bench -- cluster`: one process writes every job's stream-json into that job's CLI stdout.

Each job's CLI stand-in (fake-claude-stream.py) connects to this process's unix socket and hands over its stdout (the
pipe the server reads, passed with SCM_RIGHTS); from then on this process writes the job's lines straight into it, as
the Claude CLI would, and the stand-in only waits. So a token's path starts where a real one's does, at the write into
the server's pipe, with no process between (a `cat` per job, as before, was one more process to wake for every token,
on the two cores the server shares with this load), and the 150 streams cost one process, not 150.

argv: socket path, jobs, milliseconds between a job's deltas. stdin: `stream <first> <end>` (every job streams text
deltas number first to end - 1, one per interval, each at its own phase; each delta's text is `⟨i@t⟩`, t being CLOCK_MONOTONIC in ms at
its write, the clock Node's process.hrtime reads), then `end <text>` (the reply and the result line, then the end of
each stream). stdout: `streamed` and `ended` when those are done.
"""
import heapq
import json
import os
import random
import select
import socket
import sys
import time
import uuid

sock_path, jobs, interval_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(jobs)
streams = {}  # job -> the CLI's stdout (a file descriptor)
controls = {}  # job -> the CLI's connection, closed at the end so it exits
sessions = {}


def say(what):
    sys.stdout.write(what + "\n")
    sys.stdout.flush()


def line(job, obj):
    obj.update(session_id=sessions[job], parent_tool_use_id=None, uuid=str(uuid.uuid4()))
    os.write(streams[job], (json.dumps(obj, ensure_ascii=False) + "\n").encode())


def accept():
    conn, _ = server.accept()
    data, fds, _, _ = socket.recv_fds(conn, 64, 1)
    job = int(data.decode().strip())
    streams[job], controls[job], sessions[job] = fds[0], conn, str(uuid.uuid4())
    line(job, {"type": "system", "subtype": "init", "model": "bench", "tools": [], "permissionMode": "acceptEdits"})
    line(job, {"type": "stream_event", "event": {"type": "message_start", "message": {"id": f"msg_{job}"}}})


# A text delta's line as `line` would write it, filled in rather than built and dumped: this runs 7 500 times a second.
DELTA = (
    '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"%s"}},'
    '"session_id":"%s","parent_tool_use_id":null,"uuid":"%s"}\n'
)


def stream(first, end):
    """The deltas due within the same millisecond go out together (as Node's timers fire), each stamped at its write."""
    interval = interval_ms / 1000
    start = time.monotonic()
    due = [(start + random.random() * interval, job, first) for job in streams]
    heapq.heapify(due)
    while due:
        wait = due[0][0] - time.monotonic()
        if wait > 0.0005:
            time.sleep(wait)
            continue
        horizon = time.monotonic() + 0.0005
        while due and due[0][0] <= horizon:
            at, job, i = heapq.heappop(due)
            text = f"⟨{i}@{time.monotonic_ns() / 1e6:.3f}⟩"
            os.write(streams[job], (DELTA % (text, sessions[job], uuid.uuid4())).encode())
            if i + 1 < end:
                heapq.heappush(due, (at + interval, job, i + 1))
    say("streamed")


def end(text, tokens):
    for job in list(streams):
        line(job, {"type": "assistant", "message": {"id": f"msg_{job}", "content": [{"type": "text", "text": text}]}})
        line(job, {
            "type": "result", "subtype": "success", "is_error": False, "result": text, "total_cost_usd": 0,
            "usage": {"input_tokens": 1, "output_tokens": tokens}, "duration_ms": tokens * interval_ms, "num_turns": 1,
        })
        os.close(streams.pop(job))
        controls.pop(job).close()
    say("ended")


commands = b""
while True:
    readable, _, _ = select.select([server, sys.stdin.buffer], [], [])
    if server in readable:
        accept()
    if sys.stdin.buffer in readable:
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:
            break
        commands += chunk
        while b"\n" in commands:
            command, commands = commands.split(b"\n", 1)
            verb, _, arg = command.decode().partition(" ")
            if verb == "stream":
                stream(*map(int, arg.split()))
            elif verb == "end":
                end(arg, int(arg.split()[0]))
for fd in streams.values():
    os.close(fd)
