#!/usr/bin/env python3
"""common/ never logs and never exits (docs/DESIGN.md, invariant 8), checked on the objects.

Usage: nolog.py NM LIBRARY

Runs `nm -A -u` on the static library and looks at the objects built from common/ (common/aws/
included). What "logs" means here: anything that prints a line for a human outside the
caller's control —
  - the daemon's sink: logger_log and the other log_*/logger_* functions of common/log.c;
  - syslog(3) (openlog, syslog, vsyslog) and journald (every sd_journal_* function);
  - the process's own streams: a reference to stderr or stdout (fprintf(stderr, …), fputs,
    fwrite, … all go through these two symbols), printf/vprintf/puts/putchar, perror,
    psignal/psiginfo, and err(3)/warn(3)/error(3), which write to stderr.
Writing into a buffer (snprintf, a FILE* the caller passed) is not logging: that is how
common/ hands a message back (S3bError). "Exits": exit, _exit, _Exit, quick_exit — common/
returns a code and the daemon decides (assert() for programmer errors stays allowed).

common/log.c itself is the sink (it lives in common/ so that tests and tools can link it
without the daemon) and is the one object exempt.
"""
import os
import re
import subprocess
import sys

FORBIDDEN = re.compile(
    r"^(logger_.*|log_.*|openlog|syslog|vsyslog|__syslog_chk|__vsyslog_chk|sd_journal_.*"
    r"|stderr|stdout|printf|vprintf|__printf_chk|__vprintf_chk|puts|putchar|perror"
    r"|psignal|psiginfo|err|errx|verr|verrx|warn|warnx|vwarn|vwarnx|error|error_at_line"
    r"|exit|_exit|_Exit|quick_exit)$")
EXEMPT = {"common_log.c.o"}


def main():
    nm, lib = sys.argv[1], sys.argv[2]
    out = subprocess.run([nm, "-A", "-u", lib], check=True, capture_output=True,
                         text=True).stdout
    checked, bad = set(), []
    for line in out.splitlines():
        # "lib.a:lib.a.p/common_csv.c.o:                 U strlen"
        head, _, sym = line.rpartition(" ")
        member = os.path.basename(head.split(":")[1]) if head.count(":") >= 2 else ""
        if not member.startswith("common_") or member in EXEMPT:
            continue
        checked.add(member)
        sym = sym.split("@")[0]
        if FORBIDDEN.match(sym):
            bad.append(f"{member}: references {sym}")
    if not checked:
        print(f"no common/ object found in {lib}: the check would pass vacuously")
        return 1
    print("\n".join(bad) if bad else f"ok: {len(checked)} common/ objects, none logs or exits")
    if bad:
        print("common/ must not log or exit: return a negative errno and fill the S3bError; "
              "daemon/ decides what to print (docs/DESIGN.md, invariant 8)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
