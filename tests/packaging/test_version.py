#!/usr/bin/python3
"""One version: meson.build's project() version is what `s3batchd --version` prints, what the
generated debian/changelog and RPM spec carry (packaging/gen-version-files, as build-deb and
build-rpm run it), and what the man pages show; no packaging file hard-codes it. One license:
meson.build, the spec, debian/copyright and LICENSE agree, with the same copyright holder."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from opslib import BIN, SRC, Checks, path, read  # noqa: E402

ck = Checks('version')


def main():
    info = json.loads(subprocess.run(['meson', 'introspect', '--projectinfo', path('meson.build')],
                                     capture_output=True, text=True, check=True).stdout)
    version = info['version']
    ck.check(re.fullmatch(r'\d+\.\d+\.\d+\S*', version) is not None, f'odd meson version {version!r}')
    out = subprocess.run([BIN, '--version'], capture_output=True, text=True).stdout.strip()
    ck.check(out == f's3batchd {version}', f'`s3batchd --version` says {out!r}, meson.build {version}')

    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([path('packaging/gen-version-files'), SRC, d], capture_output=True, text=True,
                           env=dict(os.environ, SOURCE_DATE_EPOCH='1800000000'))
        ck.check(r.returncode == 0 and r.stdout.strip() == version, f'gen-version-files: {r.stdout}{r.stderr}')
        changelog = open(os.path.join(d, 'changelog')).read()
        spec = open(os.path.join(d, 's3batchd.spec')).read()
    if shutil.which('dpkg-parsechangelog'):
        with tempfile.NamedTemporaryFile('w') as f:
            f.write(changelog)
            f.flush()
            got = subprocess.run(['dpkg-parsechangelog', '-l', f.name, '-S', 'Version'],
                                 capture_output=True, text=True).stdout.strip()
    else:
        got = re.match(r's3batchd \(([^)]+)\)', changelog).group(1)
    ck.check(got == version, f'generated debian/changelog version {got!r}, meson.build {version}')
    m = re.search(r'^Version:\s*(\S+)', spec, re.M)
    ck.check(m and m.group(1) == version, f'generated spec Version {m and m.group(1)!r}, meson.build {version}')
    ck.check(re.search(r'^\* .* - ' + re.escape(version) + r'-1$', spec, re.M) is not None,
             'generated spec %changelog entry does not carry the version')
    ck.check(not re.search(r'@[A-Z]+@', changelog + spec),
             'a placeholder was left unreplaced')

    builddir = os.environ.get('S3BATCHD_BUILDDIR')
    if builddir:
        man8 = open(os.path.join(builddir, 'packaging', 's3batchd.8')).read()
        ck.check(f'"s3batchd {version}"' in man8, 'the built s3batchd(8) does not show the version')

    # nothing in the packaging spells the version out (it would go stale at the next bump)
    for root in ('packaging', 'systemd'):
        for dirpath, _, files in os.walk(path(root)):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    text = open(p, encoding='utf-8').read()
                except UnicodeDecodeError:
                    continue
                ck.check(re.search(r'(?<![\d.])' + re.escape(version) + r'(?![\d])', text) is None,
                         f'{os.path.relpath(p, SRC)} hard-codes the version {version}: use @VERSION@')

    # one license and copyright holder everywhere
    m = re.search(r"^\s*license:\s*'([^']*)'", read('meson.build'), re.M)
    lic = m.group(1) if m else None
    ck.check(lic == 'Apache-2.0', f'meson.build license {lic!r}')
    ck.check(re.search(r'^License:\s*Apache-2\.0$', spec, re.M) is not None, 'spec License is not Apache-2.0')
    ck.check(re.search(r'^%license LICENSE$', spec, re.M) is not None, 'spec has no %license LICENSE')
    copyright = read('packaging/debian/copyright')
    ck.check(copyright.startswith('Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/'),
             'debian/copyright is not machine-readable (DEP-5)')
    ck.check(re.search(r'^Files: \*\nCopyright: \d{4} The s3batchd authors\nLicense: Apache-2\.0$', copyright, re.M)
             is not None, 'debian/copyright: Files: * is not "The s3batchd authors", Apache-2.0')
    license_text = read('LICENSE')
    ck.check('Copyright 2026 The s3batchd authors' in license_text and
             'Apache License\n                           Version 2.0, January 2004' in license_text,
             'LICENSE does not hold the Apache License 2.0 and the copyright holder')
    ck.done()


if __name__ == '__main__':
    main()
