#!/usr/bin/python3
"""`s3batchd validate` on the real binary: the good corpus is accepted, each file of the bad
corpus is rejected for its own reason at its own line and column, gzip in all its forms, the
max_rejected_rows verdict, usage errors, and a random file cross-checked with Python's csv
module (row count and the line of every bad row)."""
import csv
import gzip
import io
import os
import random
import re
import subprocess
import tempfile
import unittest

BIN = os.environ.get('S3BATCHD_BIN', 's3batchd')
SRC = os.environ.get('S3BATCHD_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
CONFIG = os.path.join(SRC, 'conf', 's3batchd.yaml')
GOOD = os.path.join(SRC, 'tests', 'data', 'good')
BAD = os.path.join(SRC, 'tests', 'data', 'bad')
HEADER = 'student_id,first_name,last_name,course'

# The first line validate prints for each bad file (FILE:LINE: column N (name): reason).
BAD_EXPECT = {
        'after_quote.csv': ':2: column 1 (student_id): unexpected text after a closing quote',
        'empty.csv': ': FILE ERROR: no header row: the file is empty',
        'empty_key.csv': ':2: column 4 (course): key attribute is null',
        'extra_field.csv': ':2: column 5: expected 4 fields, found 5',
        'header_mismatch.csv': ": FILE ERROR: line 1: header does not match the columns of pipeline "
                               "'students': missing: 'last_name'; unknown: 'surname', 'email'",
        'latin1.csv': ':2: column 2 (first_name): invalid UTF-8',
        'missing_field.csv': ':3: column 4 (course): expected 4 fields, found 3',
        'null_required.csv': ':2: column 2 (first_name): required value is null',
        'pattern.csv': ':3: column 1 (student_id): does not match pattern ^A[0-9]{5}$',
        'stray_quote.csv': ':2: column 3 (last_name): quote inside an unquoted field',
        'too_long.csv': ':2: column 2 (first_name): longer than 64 bytes (65)',
        'unterminated_quote.csv': ':3: column 2 (first_name): unterminated quoted field',
}

SUMMARY = re.compile(r": pipeline '(?P<pipeline>[^']+)', table (?P<table>\S+?)(?P<gzip>, gzip)?: "
                     r'(?P<rows>\d+) rows, (?P<valid>\d+) valid, (?P<rejected>\d+) rejected '
                     r'\(at most (?P<allowed>\d+) allowed\), (?P<superseded>\d+) superseded')


def validate(*args, config=CONFIG, stdin=None):
        p = subprocess.run([BIN, '--config', config, 'validate', *args], input=stdin,
                           capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def summary(out):
        m = SUMMARY.search(out)
        assert m, out
        return {k: (int(v) if v and v.isdigit() else v) for k, v in m.groupdict().items()}


class Corpus(unittest.TestCase):
        def test_good_files_are_accepted_with_every_row(self):
                names = sorted(os.listdir(GOOD))
                self.assertIn('students.csv', names)
                for name in names:
                        path = os.path.join(GOOD, name)
                        with open(path, newline='', encoding='utf-8-sig') as f:
                                expect_rows = sum(1 for row in csv.reader(f) if row) - 1
                        rc, out, err = validate(path)
                        self.assertEqual(rc, 0, name + out + err)
                        s = summary(out)
                        self.assertEqual((s['rows'], s['valid'], s['rejected']), (expect_rows, expect_rows, 0), name)
                        self.assertEqual(s['pipeline'], 'students')
                        self.assertEqual(s['table'], 'PRELIM_STUDENT_DATA')
                        self.assertTrue(out.rstrip().endswith(path + ': ACCEPTED'), out)

        def test_every_bad_file_is_rejected_for_its_reason(self):
                self.assertEqual(sorted(os.listdir(BAD)), sorted(BAD_EXPECT), 'every bad file needs an expectation')
                for name, expect in sorted(BAD_EXPECT.items()):
                        path = os.path.join(BAD, name)
                        rc, out, err = validate(path)
                        self.assertEqual(rc, 1, name + out + err)
                        first = out.splitlines()[0]
                        self.assertEqual(first, path + expect, name)
                        self.assertTrue(out.rstrip().endswith(path + ': REJECTED'), out)

        def test_rejected_row_is_echoed_safely(self):
                rc, out, _ = validate(os.path.join(BAD, 'latin1.csv'))
                self.assertIn('    | A00001,Ren\\xe9e,Descartes,CS101\n', out)
                rc, out, _ = validate(os.path.join(BAD, 'unterminated_quote.csv'))
                self.assertIn('    | A00002,"Alan,Turing,CS101\\nA00003,Grace,Hopper,MATH200\\n\n', out)

        def test_quiet(self):
                rc, out, _ = validate('-q', os.path.join(BAD, 'pattern.csv'))
                self.assertEqual(rc, 1)
                self.assertEqual(len(out.splitlines()), 2, out)
                self.assertEqual(summary(out)['rejected'], 1)


class Gzip(unittest.TestCase):
        def setUp(self):
                self.tmp = tempfile.TemporaryDirectory()
                with open(os.path.join(GOOD, 'students.csv'), 'rb') as f:
                        self.data = f.read()

        def tearDown(self):
                self.tmp.cleanup()

        def write(self, name, data):
                path = os.path.join(self.tmp.name, name)
                with open(path, 'wb') as f:
                        f.write(data)
                return path

        def test_gzip_by_suffix_magic_and_stdin(self):
                gz = gzip.compress(self.data)
                for path in (self.write('s.csv.gz', gz), self.write('s.csv', gz)):
                        rc, out, err = validate('--pipeline', 'students', path)
                        self.assertEqual(rc, 0, out + err)
                        s = summary(out)
                        self.assertEqual((s['rows'], s['valid'], s['gzip']), (4, 4, ', gzip'))
                rc, out, err = validate('-p', 'students', '-', stdin=gz)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(summary(out)['valid'], 4)

        def test_csv_gz_matches_the_csv_pipeline(self):
                # no --pipeline: the example's pipeline has suffix .csv and compression auto
                path = self.write('students.csv.gz', gzip.compress(self.data))
                rc, out, err = validate(path)
                self.assertEqual(rc, 0, out + err)
                s = summary(out)
                self.assertEqual((s['pipeline'], s['rows'], s['valid'], s['gzip']), ('students', 4, 4, ', gzip'))
                # ...but not a .gz of another suffix, nor for a pipeline that never reads gzip
                rc, _, err = validate(self.write('students.txt.gz', gzip.compress(self.data)))
                self.assertEqual(rc, 2)
                self.assertIn('choose one with --pipeline', err)
                with open(CONFIG) as f:
                        text = f.read()
                self.assertIn('compression: auto', text)
                none = self.write('none.yaml', text.replace('compression: auto', 'compression: none').encode())
                rc, _, err = validate(path, config=none)
                self.assertEqual(rc, 2, err)
                self.assertIn("no pipeline in %s matches" % none, err)

        def test_concatenated_members(self):
                cut = self.data.index(b'\n', 50) - 3          # inside a row
                path = self.write('s.csv.gz', gzip.compress(self.data[:cut]) + gzip.compress(self.data[cut:]))
                rc, out, err = validate('-p', 'students', path)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(summary(out)['valid'], 4)

        def test_corrupt_and_truncated(self):
                gz = gzip.compress(self.data)
                rc, out, _ = validate('-p', 'students', self.write('t.csv.gz', gz[:-5]))
                self.assertEqual(rc, 1)
                self.assertIn('FILE ERROR: truncated gzip data', out)
                bad = bytearray(gz)
                bad[-8] ^= 0xff                                 # CRC-32
                rc, out, _ = validate('-p', 'students', self.write('c.csv.gz', bytes(bad)))
                self.assertEqual(rc, 1)
                self.assertIn('FILE ERROR: corrupt gzip data', out)
                rc, out, _ = validate('-p', 'students', self.write('p.csv.gz', self.data))
                self.assertEqual(rc, 1)
                self.assertIn('FILE ERROR: corrupt gzip data', out)


class Verdict(unittest.TestCase):
        def setUp(self):
                self.tmp = tempfile.TemporaryDirectory()

        def tearDown(self):
                self.tmp.cleanup()

        def config_allowing(self, n):
                with open(CONFIG) as f:
                        text = f.read()
                self.assertEqual(text.count('max_rejected_rows: 0'), 1)
                path = os.path.join(self.tmp.name, 'c.yaml')
                with open(path, 'w') as f:
                        f.write(text.replace('max_rejected_rows: 0', 'max_rejected_rows: %d' % n))
                return path

        def test_rejects_within_the_limit_are_accepted(self):
                path = os.path.join(BAD, 'pattern.csv')
                rc, out, _ = validate(path, config=self.config_allowing(1))
                self.assertEqual(rc, 0, out)
                self.assertIn(':3: column 1 (student_id)', out)
                self.assertEqual(summary(out)['allowed'], 1)
                self.assertTrue(out.rstrip().endswith('ACCEPTED'))
                # a file error is never within the limit
                rc, out, _ = validate(os.path.join(BAD, 'header_mismatch.csv'), config=self.config_allowing(100))
                self.assertEqual(rc, 1, out)

        def test_superseded_rows_are_counted(self):
                path = os.path.join(self.tmp.name, 'dup.csv')
                with open(path, 'w') as f:
                        f.write(HEADER + '\nA00001,Ada,L,CS101\nA00001,Ada,M,CS102\nA00001,Ada,N,CS101\n'
                                'A00001,Ada,O,CS101\n')
                rc, out, _ = validate(path)
                self.assertEqual(rc, 0, out)
                s = summary(out)
                self.assertEqual((s['rows'], s['valid'], s['superseded']), (4, 4, 2))

        def test_usage_and_errors(self):
                self.assertEqual(validate()[0], 2)
                self.assertEqual(validate('a.csv', 'b.csv')[0], 2)
                self.assertEqual(validate('--bogus', 'a.csv')[0], 2)
                rc, _, err = validate('-p', 'nope', os.path.join(GOOD, 'students.csv'))
                self.assertEqual(rc, 2)
                self.assertIn("no pipeline named 'nope'", err)
                rc, _, err = validate(os.path.join(self.tmp.name, 'file.txt'))
                self.assertEqual(rc, 2)
                self.assertIn('choose one with --pipeline', err)
                rc, out, _ = validate(os.path.join(self.tmp.name, 'missing.csv'))
                self.assertEqual(rc, 1)
                self.assertIn('FILE ERROR: cannot open', out)
                broken = os.path.join(self.tmp.name, 'broken.yaml')
                with open(broken, 'w') as f:
                        f.write('pipelines: 3\n')
                rc, _, err = validate(os.path.join(GOOD, 'students.csv'), config=broken)
                self.assertEqual(rc, 1)
                self.assertIn('configuration is not valid', err)
                rc, out, _ = validate('--help')
                self.assertEqual(rc, 0)
                self.assertIn('Usage: s3batchd', out)

        def test_options_before_and_after_the_command(self):
                good = os.path.join(GOOD, 'students.csv')
                for argv in (['-c', CONFIG, 'validate', '-q', good],
                             ['validate', good, '--config', CONFIG, '--quiet'],
                             ['validate', '-q', good, '-c' + CONFIG],
                             ['--quiet', 'validate', '--config=' + CONFIG, good]):
                        p = subprocess.run([BIN, *argv], capture_output=True, text=True, timeout=60)
                        self.assertEqual(p.returncode, 0, (argv, p.stdout, p.stderr))
                        self.assertIn('ACCEPTED', p.stdout)
                # an option of another command, an unknown one, one without its argument
                for argv, msg in ((['validate', '--dump', good], "s3batchd validate: option '--dump' does not apply to this command"),
                                  (['validate', good, '--bogus'], "s3batchd validate: unrecognized option '--bogus'"),
                                  (['validate', good, '-p'], "s3batchd validate: option '-p' needs an argument"),
                                  (['--bogus'], "s3batchd: unrecognized option '--bogus'"),
                                  (['frobnicate'], "s3batchd: unknown command 'frobnicate'")):
                        p = subprocess.run([BIN, '-c', CONFIG, *argv], capture_output=True, text=True, timeout=60)
                        self.assertEqual(p.returncode, 2, argv)
                        self.assertIn(msg, p.stderr)
                        self.assertIn('--help', p.stderr)
                        self.assertEqual(p.stdout, '')


class AgainstPythonCsv(unittest.TestCase):
        """A random file with every quoting feature, some rows broken on purpose: validate must
        count the rows Python's csv module counts and reject exactly the broken ones, at the
        physical line where each starts."""

        def test_random_file(self):
                rnd = random.Random(4)
                words = ['Ada', 'O\'Neil', 'a,b', 'say "hi"', 'two\nlines', 'crlf\r\ninside', 'café',
                         '😀', ' padded ', 'x' * 64, 'semi;colon', 'tab\there']
                buf = io.StringIO(newline='')
                w = csv.writer(buf, lineterminator=rnd.choice(['\n', '\r\n']))
                w.writerow(HEADER.split(','))
                bad_rows = []
                n = 1500
                for i in range(n):
                        sid = 'A%05d' % i
                        if rnd.random() < 0.05:
                                sid = 'Z%05d' % i                       # breaks the pattern
                                bad_rows.append(i)
                        row = [sid, rnd.choice(words), rnd.choice(words), rnd.choice(['CS101', 'MATH200'])]
                        if rnd.random() < 0.3:
                                w.writerow(row)
                        else:
                                buf.write(','.join('"%s"' % v.replace('"', '""') if rnd.random() < 0.5 or
                                                   any(c in v for c in ',"\r\n') else v for v in row) + '\r\n')
                text = buf.getvalue()
                # where each record starts: python's csv agrees on the records (checked below),
                # the physical line is found by joining lines while a quote is open
                consumed = []
                phys = 0
                it = iter(text.split('\n'))
                for raw in it:
                        phys += 1
                        rec = raw
                        while rec.count('"') % 2 == 1:
                                rec += '\n' + next(it)
                                phys += 1
                        consumed.append((phys - rec.count('\n'), rec))
                records = [c for c in consumed if c[1].strip('\r') != ''][1:]
                self.assertEqual(len(records), n)
                self.assertEqual(sum(1 for _ in csv.reader(io.StringIO(text, newline=''))) - 1, n)
                expect_lines = [records[i][0] for i in bad_rows]
                with tempfile.NamedTemporaryFile('w', suffix='.csv', newline='', encoding='utf-8') as f:
                        f.write(text)
                        f.flush()
                        rc, out, err = validate(f.name)
                s = summary(out)
                self.assertEqual(s['rows'], n)
                self.assertEqual(s['rejected'], len(bad_rows))
                got_lines = [int(m.group(1)) for m in re.finditer(r'\.csv:(\d+): column 1 \(student_id\): does not match', out)]
                self.assertEqual(got_lines, expect_lines)
                self.assertEqual(rc, 1 if bad_rows else 0)


if __name__ == '__main__':
        unittest.main(verbosity=2)
