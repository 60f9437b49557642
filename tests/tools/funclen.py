#!/usr/bin/env python3
"""No production function over 80 lines (docs/DESIGN.md, invariant "no function over 80 lines").

Usage: funclen.py SRCDIR [--max N] [--list]

Walks the C files of common/ (common/aws/ included), conf/ and daemon/ and measures every
function definition: from the line that starts it at column 0 to its closing '}' at column 0,
both included (the tree's style puts both there; a struct or an array initialiser is told
apart by having no '(' before its '{', or an '=' in its head). A function longer than the
limit fails the check unless ALLOWED names it, with the reason it may stay long.

--list prints every function over the limit, allowed or not, and exits 0.
"""
import os
import re
import sys

LIMIT = 80
DIRS = ("common", "conf", "daemon")

# "path:function": why it may stay long. Keep this list short: every entry is a debt or a
# function whose length is its clearest form.
ALLOWED = {
    "common/csv.c:scan":
        "the CSV scanner's state machine: one loop over the bytes with the state, position "
        "and class tables in locals, so the hot path stays in registers; split per state, "
        "every state change would pass them through memory (the comment above scan())",
}

HEAD_END = re.compile(r"\{\s*(/\*.*\*/\s*)?$")
NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    """Yields (name, first line, last line) of every function defined in path."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i, n = 0, len(lines)
    in_comment = False
    while i < n:
        line = lines[i]
        if in_comment:
            if "*/" in line:
                in_comment = False
            i += 1
            continue
        if line.startswith("/*") and "*/" not in line:
            in_comment = True
            i += 1
            continue
        if not line or line[0] in " \t#}/" or line.startswith("*"):
            i += 1
            continue
        # A definition's head: lines from here until one ends with '{' (definition) or ';'
        # (declaration, typedef, prototype).
        start, head = i, []
        while i < n:
            head.append(lines[i])
            if HEAD_END.search(lines[i]) or lines[i].rstrip().endswith(";"):
                break
            i += 1
        text = " ".join(head)
        if not HEAD_END.search(head[-1]) or "(" not in text:
            i += 1
            continue
        before_paren = text.split("(", 1)[0]
        if "=" in before_paren:
            i += 1
            continue
        m = None
        for m in NAME.finditer(before_paren + "("):
            pass
        name = m.group(1) if m else "?"
        j = i + 1
        while j < n and lines[j] != "}" and not lines[j].startswith("} "):
            j += 1
        yield name, start + 1, j + 1
        i = j + 1


def main():
    args = sys.argv[1:]
    listing = "--list" in args
    if listing:
        args.remove("--list")
    limit = LIMIT
    if "--max" in args:
        k = args.index("--max")
        limit = int(args[k + 1])
        del args[k:k + 2]
    root = args[0] if args else "."
    over, seen = [], set()
    for d in DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, d)):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(".c"):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root)
                for name, first, last in functions(path):
                    length = last - first + 1
                    key = f"{rel}:{name}"
                    seen.add(key)
                    if length > limit:
                        over.append((key, first, length))
    bad = []
    for key, first, length in over:
        allowed = key in ALLOWED
        if listing or not allowed:
            print(f"{key.split(':')[0]}:{first}: {key.split(':')[1]} is {length} lines"
                  f"{' (allowed: ' + ALLOWED[key] + ')' if allowed else ''}")
        if not allowed:
            bad.append(key)
    stale = [k for k in ALLOWED if k not in seen]
    for k in stale:
        print(f"allow-list names {k}, which no longer exists: remove it")
    if listing:
        return 0
    if bad or stale:
        print(f"{len(bad)} function(s) over {limit} lines; split them, or add them to ALLOWED "
              "in tests/tools/funclen.py with the reason")
        return 1
    print(f"ok: no function over {limit} lines outside the allow-list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
