#!/usr/bin/python3
"""Runs the real binary's --check-config / check-config on the shipped example and on broken
fixtures: valid → exit 0 and "PATH: OK (1 pipeline)" on stdout; invalid → exit 1 (not a
crash: a signal is a negative return code) and every problem as FILE:LINE:COLUMN: on stderr."""
import os
import re
import subprocess
import sys
import tempfile

exe, srcdir = sys.argv[1], sys.argv[2]
example = os.path.join(srcdir, "conf", "s3batchd.yaml")
bad = os.path.join(srcdir, "tests", "data", "config", "bad-many.yaml")
failures = []


def run(*args):
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


rc, out, err = run("--check-config", "--config", example)
check(rc == 0 and out == f"{example}: OK (1 pipeline)\n" and err == "", f"example: {rc} {out!r} {err!r}")

rc, out, err = run("--config", example, "check-config", "--quiet")
check(rc == 0 and out == "" and err == "", f"check-config --quiet: {rc} {out!r} {err!r}")

rc, out, err = run("check-config", "--config", bad)
lines = err.splitlines()
diag = [l for l in lines if re.match(re.escape(bad) + r":\d+:\d+: ", l)]
check(rc == 1 and out == "", f"bad: rc={rc} out={out!r}")
check(len(diag) >= 25, f"bad: only {len(diag)} diagnostics:\n{err}")
check(lines[-1] == f"{bad}: configuration is NOT valid ({len(diag)} problems)", f"bad: last line {lines[-1:]!r}")
check(f"{bad}:7:3: queue.wait_second: unknown key, did you mean 'wait_seconds'?" in lines, "bad: typo hint")

with tempfile.TemporaryDirectory() as d:
    for name, data in [("empty.yaml", b""), ("binary.yaml", bytes(range(256)) * 8),
                       ("nul.yaml", b"workers: 4\n\0\n"), ("deep.yaml", b"[" * 100000)]:
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = run("--check-config", "--config", path)
        check(rc == 1 and err.startswith(path + ":"), f"{name}: rc={rc} err={err[:200]!r}")

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "warn.yaml")
    with open(example) as f, open(path, "w") as g:
        g.write(f.read().replace('pattern: "^A[0-9]{5}$"', 'pattern: "A[0-9]{5}"'))
    rc, out, err = run("--check-config", "--config", path)
    check(rc == 0 and out == f"{path}: OK (1 pipeline, 1 warning)\n", f"warning: {rc} {out!r}")
    check(re.fullmatch(re.escape(path) + r":\d+:\d+: warning: pipelines\[0\]\.columns\[0\]\.pattern: not anchored.*\n", err),
          f"warning: {err!r}")

with tempfile.TemporaryDirectory() as d:
    rc, out, err = run("check-config", "--dump", "--config", example)
    check(rc == 0 and out.startswith("# effective configuration of") and "\nworkers: 4\n" in out,
          f"--dump: {rc} {out[:200]!r}")
    path = os.path.join(d, "dumped.yaml")
    with open(path, "w") as f:
        f.write(out)
    rc, again, err = run("check-config", "--dump", "--config", path)
    check(rc == 0 and again.split("\n", 1)[1] == out.split("\n", 1)[1], f"--dump round trip: {rc} {err!r}")

# ordering: the three modes (short and long form, with the group rule) pass; an unknown mode
# and a bad group regex fail at their FILE:LINE:COLUMN
with tempfile.TemporaryDirectory() as d:
    with open(example) as f:
        text = f.read()
    assert "    write_mode: stream\n" in text
    for i, ordering in enumerate(["none", "per_prefix", "global", "{ mode: global, window: 0 }",
                                  "{ mode: per_prefix, group: prefix }",
                                  "{ mode: per_prefix, group: { regex: '^incoming/([^/]+)/' }, window: 10 }"]):
        path = os.path.join(d, f"ordering-{i}.yaml")
        with open(path, "w") as g:
            g.write(text.replace("    write_mode: stream\n", f"    write_mode: stream\n    ordering: {ordering}\n"))
        rc, out, err = run("--check-config", "--config", path)
        check(rc == 0 and out == f"{path}: OK (1 pipeline)\n" and err == "", f"ordering {ordering}: {rc} {out!r} {err!r}")
    line = text[:text.index("    write_mode: stream\n")].count("\n") + 2
    for ordering, col, msg in [
            ("by_time", 15, "pipelines[0].ordering: unknown value 'by_time' (expected one of: none, per_prefix, global)"),
            ("{ mode: per-prefix }", 23, "pipelines[0].ordering.mode: unknown value 'per-prefix' (expected one of: "
                                         "none, per_prefix, global), did you mean 'per_prefix'?"),
            ("{ mode: per_prefix, group: { regex: '(' } }", 51,
             "pipelines[0].ordering.group.regex: not a valid POSIX extended regular expression: "
             "Unmatched ( or \\(")]:
        path = os.path.join(d, "ordering-bad.yaml")
        with open(path, "w") as g:
            g.write(text.replace("    write_mode: stream\n", f"    write_mode: stream\n    ordering: {ordering}\n"))
        rc, out, err = run("--check-config", "--config", path)
        want = f"{path}:{line}:{col}: {msg}"
        check(rc == 1 and err.splitlines()[0] == want, f"ordering {ordering}: {rc} {err!r}, want {want!r}")

rc, out, err = run("--check-config", "--config", "/nonexistent.yaml")
check(rc == 1 and "/nonexistent.yaml: cannot read: No such file or directory" in err, f"missing: {rc} {err!r}")

rc, out, err = run("check-config", "--help")
check(rc == 0 and "Usage:" in out and "--config" in out, f"--help: {rc} {out!r}")

rc, out, err = run("check-config", "--bogus")
check(rc == 2, f"bad option: rc={rc}")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
