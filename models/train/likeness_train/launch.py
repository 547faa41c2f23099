"""A single-machine stand-in for `torchrun --standalone --nproc_per_node N`.

Debian 12's torch 1.13 ships a torchrun that fails under Python 3.11
(`Std.from_str` returns None because IntFlag iteration changed), so on such
machines `python3 -m likeness_train.launch --nproc 2 train ...` starts the
ranks itself with the same environment torchrun sets (env:// rendezvous).
On torch 2.x use torchrun; the trainer reads the same variables either way.
"""
import os
import socket
import subprocess
import sys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    n = 2
    if argv[:1] == ["--nproc"]:
        n, argv = int(argv[1]), argv[2:]
    port = str(free_port())
    procs = []
    for r in range(n):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(r),
                   LOCAL_RANK=str(r), WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(n))
        procs.append(subprocess.Popen([sys.executable, "-m", "likeness_train", *argv], env=env))
    code = 0
    try:
        for p in procs:
            rc = p.wait()
            if rc and not code:
                code = rc
                for q in procs:  # one rank failed: the others would wait forever
                    if q.poll() is None:
                        q.terminate()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        code = 130
    return code


if __name__ == "__main__":
    sys.exit(main())
