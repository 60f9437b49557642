"""Helpers shared by the packaging/documentation tests: where things are, a minimal check
framework that reports every problem before failing."""
import os
import re
import subprocess
import sys

SRC = os.environ.get('S3BATCHD_SRCDIR') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.environ.get('S3BATCHD_BIN')


def path(*parts):
    return os.path.join(SRC, *parts)


def read(*parts):
    with open(path(*parts), encoding='utf-8') as f:
        return f.read()


def c_functions(text):
    """Top-level C functions of a file as {name: body text} (K&R brace style as in this tree:
    the definition line at column 0 ends with '{', the body ends at a '}' at column 0)."""
    funcs = {}
    for m in re.finditer(r'^(?:static\s+)?[A-Za-z_][\w \*]*?\b(\w+)\(([^;{]*?)\)\s*\{\s*$(.*?)^\}',
                         text, re.M | re.S):
        funcs[m.group(1)] = m.group(3)
    return funcs


def c_defines(text):
    return {m.group(1): m.group(2).strip() for m in re.finditer(r'^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$', text, re.M)}


def c_int(expr, defines):
    """Evaluates a constant like 64 * 1024 * 1024 or (400 * 1024) or a macro of one."""
    expr = expr.strip()
    if expr in ('UINT64_MAX', 'UINT_MAX'):
        return None     # unbounded
    for _ in range(5):
        expr = re.sub(r'\b([A-Z_][A-Z0-9_]*)\b', lambda m: '(' + defines[m.group(1)] + ')', expr)
    if not re.fullmatch(r'[\d\s\*\+\(\)u]+', expr):
        raise ValueError('not a constant: ' + expr)
    return eval(expr.replace('u', ''), {})


class Checks:
    def __init__(self, name):
        self.name = name
        self.problems = []
        self.n = 0

    def check(self, ok, message):
        self.n += 1
        if not ok:
            self.problems.append(message)
        return ok

    def done(self):
        for p in self.problems:
            print(f'FAIL: {p}')
        print(f'{self.name}: {self.n - len(self.problems)} of {self.n} checks passed')
        sys.exit(1 if self.problems or self.n == 0 else 0)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)
