"""Drives tests/tools/awscall (one call of common/aws/ per run, JSON out) against a World."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'world'))
from worldlib import World, WorldTestCase  # noqa: E402,F401

BUILDDIR = os.environ.get('S3BATCHD_BUILDDIR', os.path.join(os.path.dirname(os.path.dirname(HERE)), 'build'))
AWSCALL = os.path.join(BUILDDIR, 'tests', 'tools', 'awscall')
# Retries in tests back off from 20 ms instead of 1 s: same code path, shorter waits.
FAST = ['--retry-base-ms', '20', '--retry-cap-ms', '200']


class CallFailed(AssertionError):
        pass


def endpoints_args(world, **override):
        """--endpoint-* for each service of WORLD; OVERRIDE maps a service to another URL, or
        to None for no endpoint option at all."""
        ep = dict(world.info['endpoints'])
        ep.update(override)
        args = []
        for service in ('sqs', 's3', 'dynamodb', 'sns'):
                if ep[service] is not None:             # None: no override, the default endpoint
                        args += [f'--endpoint-{service}', ep[service]]
        return args


def awscall(world, *args, opts=(), expect_ok=True, wrapper=(), timeout=180, **override):
        """Runs awscall with the world's endpoints (+ OVERRIDE per service) and credentials;
        returns the parsed JSON. Raises CallFailed when ok differs from EXPECT_OK (None: any)."""
        argv = [*wrapper, AWSCALL, *endpoints_args(world, **override), *FAST, *opts, *args]
        env = world.daemon_env()
        for k in [k for k in env if k.startswith('AWS_ENDPOINT_URL') or k == 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS']:
                del env[k]                              # endpoints come from the options only
        # in a sanitizer build, undefined behaviour must fail the call, not just print
        env.setdefault('UBSAN_OPTIONS', 'halt_on_error=1:print_stacktrace=1')
        p = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
        try:
                out = json.loads(p.stdout)
        except ValueError:
                raise CallFailed(f'{argv}: exit {p.returncode}, stdout {p.stdout[:2000]!r}, '
                                 f'stderr {p.stderr[-4000:]!r}')
        out['_exit'] = p.returncode
        out['_stderr'] = p.stderr.decode(errors='replace')
        if p.returncode not in (0, 1) or out['ok'] != (p.returncode == 0):
                raise CallFailed(f'{argv}: exit {p.returncode} with {out}')
        if expect_ok is not None and out['ok'] != expect_ok:
                raise CallFailed(f'{args[0]}: expected ok={expect_ok}, got {out}')
        return out


def requests(out, service):
        return out['stats'][service]['requests']


def retries(out, service):
        return out['stats'][service]['retries']


VALGRIND = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
            '--errors-for-leak-kinds=definite,indirect', '--show-leak-kinds=definite,indirect']


def valgrind_usable():
        """valgrind is installed and awscall is not a sanitizer build (the two do not mix)."""
        import shutil
        if not shutil.which('valgrind'):
                return False
        # gcc links the sanitizer runtimes dynamically, clang statically: look inside
        with open(AWSCALL, 'rb') as f:
                binary = f.read()
        return b'__asan_init' not in binary and b'__ubsan_handle' not in binary
