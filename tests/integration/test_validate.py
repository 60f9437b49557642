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
import zlib

BIN = os.environ.get('S3BATCHD_BIN', 's3batchd')
SRC = os.environ.get('S3BATCHD_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
CONFIG = os.path.join(SRC, 'conf', 's3batchd.yaml')
GOOD = os.path.join(SRC, 'tests', 'data', 'good')
BAD = os.path.join(SRC, 'tests', 'data', 'bad')
HEADER = 'student_id,first_name,last_name,course'

# A second pipeline with every column type, appended to the reference configuration for the
# typed_* files of the hostile corpus (it matches another bucket, so it shadows nothing).
TYPED_PIPELINE = """
  - name: typed
    match:
      bucket: typed-drop
      prefix: ""
      suffix: ".csv"
    table: TYPED
    csv:
      delimiter: ","
      header: required
      null_values: ["", "NULL"]
      compression: auto
      max_row_bytes: 409600
    columns:
      - { name: code,   type: string,  required: true }
      - { name: id,     type: integer, required: true }
      - { name: amount, type: number }
      - { name: ok,     type: boolean }
      - { name: day,    type: date }
      - { name: level,  type: enum, values: [UG, PG] }
    key:
      partition: code
      sort: id
    max_rejected_rows: 0
    write_mode: stream
"""


def expect(lines, counts, rc=1, pending=None):
        """What validate must print for one file of the hostile corpus: its diagnostic lines in
        order (what follows FILE on each line; the echoed rows and the summary left out; a
        compiled regex matches a line whole), the (rows, valid, rejected) counts of the
        summary, the exit status. pending: the rule lands with another branch; until then the
        file is skipped with that reason (delete it to enable the entry)."""
        return {'lines': lines, 'counts': counts, 'rc': rc, 'pending': pending}


UNTERMINATED = (': unterminated quoted field: the quote is still open at the end of the file, '
                'so the rows after it cannot be told apart')

# Every file of tests/data/bad and what it must get; the test fails on a file without an entry.
# typed_* files are checked against TYPED_PIPELINE, the others against the reference pipeline.
BAD_EXPECT = {
        'after_quote.csv': expect([':2: column 1 (student_id): unexpected text after a closing quote'], (1, 0, 1)),
        'empty.csv': expect([': FILE ERROR: no header row: the file is empty'], (0, 0, 0)),
        'empty_key.csv': expect([':2: column 4 (course): key attribute is null'], (1, 0, 1)),
        'extra_field.csv': expect([':2: column 5: expected 4 fields, found 5'], (1, 0, 1)),
        'header_mismatch.csv': expect([": FILE ERROR: line 1: header does not match the columns of pipeline "
                                       "'students': missing: 'last_name'; unknown: 'surname', 'email'"], (0, 0, 0)),
        'latin1.csv': expect([':2: column 2 (first_name): invalid UTF-8'], (1, 0, 1)),
        'missing_field.csv': expect([':3: column 4 (course): expected 4 fields, found 3'], (2, 1, 1)),
        'null_required.csv': expect([':2: column 2 (first_name): required value is null'], (1, 0, 1)),
        'pattern.csv': expect([':3: column 1 (student_id): does not match pattern ^A[0-9]{5}$'], (2, 1, 1)),
        'stray_quote.csv': expect([':2: column 3 (last_name): quote inside an unquoted field'], (2, 1, 1)),
        'too_long.csv': expect([':2: column 2 (first_name): longer than 64 bytes (65)'], (1, 0, 1)),
        # an open quote swallows the rest of the file: the file fails, the row before it was read
        'unterminated_quote.csv': expect([': FILE ERROR: line 3: column 2 (first_name)' + UNTERMINATED], (1, 1, 0)),

        # not text
        'nul_in_field.csv': expect([':2: column 3 (last_name): NUL byte in field'], (2, 1, 1)),
        'nul_line.csv': expect([':3: column 1 (student_id): NUL byte in field'], (3, 2, 1)),
        'utf16le_bom.csv': expect([': FILE ERROR: UTF-16 is not supported (the file starts with the byte order '
                                   'mark FF FE); convert it to UTF-8'], (0, 0, 0)),
        'utf16be_bom.csv': expect([': FILE ERROR: UTF-16 is not supported (the file starts with the byte order '
                                   'mark FE FF); convert it to UTF-8'], (0, 0, 0)),
        'utf16le_no_bom.csv': expect([': FILE ERROR: line 1: header row: NUL byte in field (a UTF-16 or binary '
                                      'file? convert it to UTF-8)'], (0, 0, 0)),
        'binary_png.csv': expect([': FILE ERROR: line 1: header row: invalid UTF-8'], (0, 0, 0)),
        'overlong_utf8.csv': expect([':2: column 2 (first_name): invalid UTF-8'], (2, 1, 1)),
        'surrogate.csv': expect([':3: column 3 (last_name): invalid UTF-8'], (2, 1, 1)),
        # a BOM is only one at the very start; later it is U+FEFF, part of the value
        'bom_mid_file.csv': expect([':3: column 1 (student_id): does not match pattern ^A[0-9]{5}$'], (2, 1, 1)),
        'bom_only.csv': expect([': FILE ERROR: no header row: the file is empty'], (0, 0, 0)),
        # the echo of a row and the file error message are escaped: no terminal control reaches stdout
        'terminal_escape.csv': expect([':2: column 1 (student_id): does not match pattern ^A[0-9]{5}$'], (1, 0, 1)),
        # a bare \r is data: a file with only CR line ends is one line, its header wrong
        'cr_only_line_ends.csv': expect([": FILE ERROR: line 1: header does not match the columns of pipeline "
                                         "'students': missing: 'course'; unknown: 'course\\rA00001', 'Ada', "
                                         "'Lovelace', 'CS101\\rA00002', 'Alan', 'Turing', 'CS101'"], (0, 0, 0)),

        # quoting: a quote opens a field only as its first byte; "" inside quotes is a quote
        'quote_mid_field_multiline.csv': expect([':2: column 3 (last_name): quote inside an unquoted field',
                                                 ':3: column 1 (student_id): quote inside an unquoted field'],
                                                (3, 1, 2)),
        'escaped_quote_at_field_end.csv': expect([': FILE ERROR: line 3: column 2 (first_name)' + UNTERMINATED],
                                                 (1, 1, 0)),

        # shape
        'header_duplicate_column.csv': expect([": FILE ERROR: line 1: header does not match the columns of "
                                               "pipeline 'students': repeated: 'course'"], (0, 0, 0)),
        'header_only.csv': expect([], (0, 0, 0), rc=0),         # nothing to load is not an error
        'trailing_delimiter.csv': expect([':2: column 5: expected 4 fields, found 5'], (1, 0, 1)),
        'too_many_fields.csv': expect([':2: too many fields'], (2, 1, 1)),
        'many_delimiters.csv.gz': expect([':2: too many fields'], (2, 1, 1)),     # 10^6 of them
        # empty lines are skipped, and counted: the reject is at its physical line
        'empty_lines_10k.csv': expect([':10003: column 1 (student_id): does not match pattern ^A[0-9]{5}$'],
                                      (2, 1, 1)),

        # gzip
        'gzip_truncated.csv.gz': expect([': FILE ERROR: truncated gzip data: the stream ends inside a member '
                                         'after 41 decompressed bytes'], (0, 0, 0)),
        'gzip_garbage.csv.gz': expect([': FILE ERROR: corrupt gzip data after 0 decompressed bytes: invalid '
                                       'distance too far back'], (0, 0, 0)),
        # 8 KiB that inflate to an 8 MiB row: rejected with bounded memory (see GzipBomb)
        'gzip_bomb.csv.gz': expect([':2: row longer than max_row_bytes'], (2, 1, 1)),

        # past max_row_bytes: a 500 KB quoted field holding "\nA99999,Evil,Row,CS666\n" after
        # its first 409600 bytes is one rejected row, and the line in it never an item (3 rows,
        # 2 valid; before the fix: 5 rows, A99999 valid, the field's tail a stray-quote reject)
        'oversized_quoted_row_inside.csv.gz': expect([':3: row longer than max_row_bytes'], (3, 2, 1)),
        # an open quote followed by 20000 rows (540 KB): no row after it is read
        'oversized_unterminated_quote.csv.gz': expect([': FILE ERROR: line 3: column 2 (first_name)' + UNTERMINATED],
                                                      (1, 1, 0)),

        # types (TYPED_PIPELINE)
        'typed_number_out_of_range.csv': expect([":2: column 3 (amount): magnitude out of DynamoDB's range "
                                                 "(1E-130 to 9.99E+125)"], (1, 0, 1)),
        'typed_39_digits.csv': expect([':2: column 3 (amount): more than 38 significant digits'], (1, 0, 1)),
        'typed_nan_inf_hex.csv': expect([':2: column 3 (amount): not a number', ':3: column 3 (amount): not a number',
                                         ':4: column 3 (amount): not a number', ':5: column 2 (id): not an integer'],
                                        (4, 0, 4)),
        'typed_boolean_tru.csv': expect([':2: column 4 (ok): not a boolean (true/false/1/0/yes/no)'], (1, 0, 1)),
        'typed_date_feb29.csv': expect([':2: column 5 (day): no such calendar day'], (2, 1, 1)),
        'typed_enum_case.csv': expect([':2: column 6 (level): not one of the enum values'], (1, 0, 1)),

        # DynamoDB key sizes (Developer Guide, "Service, account, and table quotas": a partition
        # key value at most 2048 bytes, a sort key value at most 1024). Line 2 is one byte over,
        # line 3 exactly at the limit: a row rule, so the batch it would have failed is spared.
        'key_sort_1025_bytes.csv': expect([':2: column 4 (course): sort key course is 1025 bytes; DynamoDB allows 1024'],
                                          (2, 1, 1)),
        'typed_key_partition_2049_bytes.csv': expect([':2: column 1 (code): partition key code is 2049 bytes; DynamoDB allows 2048'],
                                                     (2, 1, 1)),
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

        def test_every_bad_file_gets_its_verdict(self):
                self.assertGreaterEqual(len(BAD_EXPECT), 30)
                self.assertEqual(sorted(os.listdir(BAD)), sorted(BAD_EXPECT), 'every bad file needs an expectation')
                with tempfile.TemporaryDirectory() as tmp:
                        typed_config = os.path.join(tmp, 'typed.yaml')
                        with open(CONFIG) as f:
                                text = f.read()
                        # the typed pipeline is appended to the list: `pipelines:` must be the
                        # file's last top-level key
                        top = [l for l in text.splitlines() if l and not l[0].isspace() and not l.startswith('#')]
                        self.assertEqual(top[-1], 'pipelines:', 'pipelines must end the file')
                        with open(typed_config, 'w') as f:
                                f.write(text.rstrip('\n') + '\n' + TYPED_PIPELINE)
                        for name, e in sorted(BAD_EXPECT.items()):
                                with self.subTest(name):
                                        if e['pending']:
                                                self.skipTest(e['pending'])
                                        path = os.path.join(BAD, name)
                                        if name.startswith('typed_'):
                                                rc, out, err = validate('-p', 'typed', path, config=typed_config)
                                        else:
                                                rc, out, err = validate('-p', 'students', path)
                                        self.check_output(path, e, rc, out, err)

        def check_output(self, path, e, rc, out, err):
                self.assertEqual(rc, e['rc'], out + err)
                lines = out.splitlines()
                # nothing from the file reaches the terminal unescaped
                self.assertFalse([c for c in out if ord(c) < 0x20 and c != '\n' or ord(c) == 0x7f], out)
                diag = [line for line in lines[:-2] if not line.startswith('    | ')]
                for line in diag:
                        self.assertTrue(line.startswith(path), line)
                got = [line[len(path):] for line in diag]
                self.assertEqual(len(got), len(e['lines']), out)
                for g, x in zip(got, e['lines']):
                        if isinstance(x, str):
                                self.assertEqual(g, x)
                        else:
                                self.assertRegex(g, x)
                s = summary(out)
                self.assertEqual((s['rows'], s['valid'], s['rejected']), e['counts'], out)
                self.assertEqual(lines[-1], path + (': ACCEPTED' if e['rc'] == 0 else ': REJECTED'))

        def test_rejected_row_is_echoed_safely(self):
                rc, out, _ = validate(os.path.join(BAD, 'latin1.csv'))
                self.assertIn('    | A00001,Ren\\xe9e,Descartes,CS101\n', out)
                rc, out, _ = validate(os.path.join(BAD, 'nul_in_field.csv'))
                self.assertIn('    | A00001,Ada,Love\\x00lace,CS101\n', out)
                rc, out, _ = validate(os.path.join(BAD, 'terminal_escape.csv'))
                self.assertIn('    | A0000\\x1b[2J1,Ada,Lovelace,CS101\n', out)

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


class GzipBomb(unittest.TestCase):
        """128 MiB of decompressed data from about 128 KiB of gzip, in one row and in one quoted
        field holding row-like lines: validate rejects the row with its peak memory (VmHWM of
        the child, from wait4) far below the data's size, and reads the rows after it."""

        def bomb(self, path, head, filler, tail, mib=128):
                z = zlib.compressobj(9, zlib.DEFLATED, 31)
                block = filler * ((1 << 20) // len(filler))
                with open(path, 'wb') as f:
                        f.write(z.compress(HEADER.encode() + b'\n' + head))
                        for _ in range(mib):
                                f.write(z.compress(block))
                        f.write(z.compress(tail) + z.flush())

        def peak_kib(self, path):
                with tempfile.TemporaryFile() as out:
                        p = subprocess.Popen([BIN, '--config', CONFIG, 'validate', '-p', 'students', path],
                                             stdout=out, stderr=subprocess.STDOUT)
                        _, status, usage = os.wait4(p.pid, 0)
                        p.returncode = os.waitstatus_to_exitcode(status)
                        out.seek(0)
                        return p.returncode, out.read().decode('utf-8', 'replace'), usage.ru_maxrss

        def test_memory_stays_bounded(self):
                with tempfile.TemporaryDirectory() as tmp:
                        path = os.path.join(tmp, 'bomb.csv.gz')
                        for head, filler in ((b'A00001,', b'x'), (b'A00001,"', b'\nA99999,Evil,Row,CS666\n')):
                                self.bomb(path, head, filler, b'",Lovelace,CS101\nA00002,Alan,Turing,CS101\n')
                                self.assertLess(os.path.getsize(path), 1 << 20)
                                rc, out, kib = self.peak_kib(path)
                                self.assertEqual(rc, 1, out)
                                self.assertIn('.csv.gz:2: row longer than max_row_bytes\n', out)
                                s = summary(out)
                                self.assertEqual((s['rows'], s['valid'], s['rejected']), (2, 1, 1), out)
                                self.assertLess(kib, 48 * 1024, 'peak RSS %d KiB for 128 MiB of data' % kib)


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
