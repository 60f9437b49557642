#!/usr/bin/python3
"""The split reader end to end: a file above split_bytes is read as byte ranges by several
threads, and the table and the rejected-rows report must be exactly what the same file gives
read as one stream (split_bytes: 0).

One daemon, two pipelines with the same columns into two tables: `split/` keys with a tiny
split_bytes and 16 ranges, `whole/` keys never split. Each corpus is uploaded under both
prefixes; then every item is compared attribute by attribute and the reports line by line
(line numbers, columns, reasons, raw rows). The corpora are built around the range offsets the
daemon computes (size / n * i + min(i, size % n)): quoted line breaks, multi-byte UTF-8 and CRLF
across an offset, bad rows next to one, a quoted field spanning several ranges (ranges handed
back), a quote-free file (no local proof: the exact state), JSON Lines. A gzip file above
split_bytes (by .gz key and by magic bytes under a .csv key) is streamed, not split."""
import gzip
import json
import random
import re
import unittest

from daemonlib import SharedDaemonTestCase, drain_sns, run_main

RANGES = 16
SPLIT_T = 'SPLIT_RANGES'
WHOLE_T = 'SPLIT_WHOLE'
JL_SPLIT_T = 'SPLIT_JL_RANGES'
JL_WHOLE_T = 'SPLIT_JL_WHOLE'


def offsets(size, n=RANGES):
        return [size // n * i + min(i, size % n) for i in range(1, n)]


def create_table(w, name):
        w.dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=[{'AttributeName': 'student_id', 'AttributeType': 'S'},
                                      {'AttributeName': 'course', 'AttributeType': 'S'}],
                KeySchema=[{'AttributeName': 'student_id', 'KeyType': 'HASH'},
                           {'AttributeName': 'course', 'KeyType': 'RANGE'}],
                BillingMode='PAY_PER_REQUEST')
        w.dynamodb.get_waiter('table_exists').wait(TableName=name)


def pipeline(bucket, name, table, prefix, split, fmt='csv'):
        p = {
                'name': name, 'table': table, 'format': fmt,
                'match': {'bucket': bucket, 'prefix': prefix, 'suffix': ''},
                'csv': {'max_row_bytes': 2048},
                'columns': [
                        {'name': 'student_id', 'required': True, 'pattern': '^A[0-9]{5}$'},
                        {'name': 'note'},
                        {'name': 'city', 'max_length': 40},
                        {'name': 'course', 'required': True},
                ],
                'key': {'partition': 'student_id', 'sort': 'course'},
                'max_rejected_rows': 100000,
                'split_bytes': 200 if split else 0,
                'split_workers': RANGES,
        }
        if fmt == 'csv':
                p['csv']['header'] = 'required'
        return p


NOTES = ['plain', 'with, comma', 'say ""hi""', 'two\nlines', 'crlf\r\ninside', 'caf\u00e9 \u20ac \U0001F600',
         '"', 'x",y', '\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9', '']
CITIES = ['Z\u00fcrich', 'Paris', 'S\u00e3o Paulo', '\u6771\u4eac', 'Oslo']


def quote(s):
        return '"' + s.replace('"', '""') + '"'


def csv_row(rng, i, quote_free=False):
        sid = 'A%05d' % i
        course = 'C%d' % rng.randrange(5)
        note = rng.choice(NOTES)
        city = rng.choice(CITIES)
        eol = '\r\n' if rng.random() < 0.3 else '\n'
        kind = rng.random()
        if quote_free:
                note = re.sub('["\n\r,]', '-', note)
                if kind < 0.05:
                        sid = 'bad%d' % i                       # pattern reject
                elif kind < 0.08:
                        return f'{sid},{note},{city}{eol}'      # too few fields
                return f'{sid},{note},{city},{course}{eol}'
        if kind < 0.04:
                sid = 'B%05d' % i                               # pattern reject
        elif kind < 0.06:
                return f'{sid},st"ray,{city},{course}{eol}'     # stray quote
        elif kind < 0.08:
                return f'{sid},{quote(note)}junk,{city},{course}{eol}'  # text after a quote
        elif kind < 0.09:
                return f'{sid},{quote("x" * 3000)},{city},{course}{eol}'  # over max_row_bytes
        elif kind < 0.11:
                return f'{sid},{city}{eol}'                     # too few fields
        n = quote(note) if rng.random() < 0.8 or any(c in note for c in '",\r\n') else note
        c = quote(city) if rng.random() < 0.5 else city
        return f'{sid},{n},{c},{course}{eol}'


def inside_quoted_newline(body, at):
        """Whether byte offset `at` lies between a quote that opened a field and its close, with
        a line break on both sides within that field (a quoted line break across the offset)."""
        st, opened, nl_before = 'start', None, False
        for i, ch in enumerate(body):
                if i == at:
                        return st == 'q' and (nl_before or b'\n' in body[at:body.find(b'"', at)])
                c = chr(ch)
                if st == 'start':
                        st = 'q' if c == '"' else ('start' if c in ',\n' else 'u')
                        nl_before = False
                elif st == 'u':
                        st = 'start' if c in ',\n' else 'u'
                elif st == 'q':
                        if c == '"':
                                st = 'qs'
                        elif c == '\n':
                                nl_before = True
                elif st == 'qs':
                        st = 'q' if c == '"' else ('start' if c in ',\n' else 'u')
        return False


def coverage(body):
        """Which boundary cases the daemon's offsets hit in body."""
        hits = set()
        for o in offsets(len(body)):
                if 0x80 <= body[o] < 0xc0:
                        hits.add('utf8')                        # inside a multi-byte character
                if body[o - 1:o + 1] == b'\r\n':
                        hits.add('crlf')                        # between \r and \n
                if inside_quoted_newline(body, o):
                        hits.add('quoted-newline')
        return hits


def build_csv(seed, rows, quote_free=False, giant=False):
        rng = random.Random(seed)
        out = ['student_id,note,city,course\n']
        for i in range(rows):
                out.append(csv_row(rng, i, quote_free))
                if giant and i == rows // 3:
                        # one quoted field over several ranges: the ranges inside it have no
                        # record and hand their bytes back
                        big = '\n'.join('line %d, "q" \u00e9' % k for k in range(120)).replace('"', '""')
                        out.append(f'A9{i:04d},"{big}",Oslo,C9\n')
        return ''.join(out).encode()


class Split(SharedDaemonTestCase):
        @classmethod
        def configure(cls, w):
                for t in (SPLIT_T, WHOLE_T, JL_SPLIT_T, JL_WHOLE_T):
                        create_table(w, t)
                pipelines = [pipeline(w.inbound, 'ranges', SPLIT_T, 'split/', True),
                             pipeline(w.inbound, 'whole', WHOLE_T, 'whole/', False),
                             pipeline(w.inbound, 'jlranges', JL_SPLIT_T, 'jlsplit/', True, 'jsonl'),
                             pipeline(w.inbound, 'jlwhole', JL_WHOLE_T, 'jlwhole/', False, 'jsonl')]
                return w.make_daemon_config(pipelines=pipelines, workers=2)

        def setUp(self):
                drain_sns(self.w)

        def raw_items(self, table):
                out = {}
                for page in self.w.dynamodb.get_paginator('scan').paginate(TableName=table):
                        for it in page['Items']:
                                out[(it['student_id']['S'], it['course']['S'])] = it
                return out

        def clear(self, *tables):
                for t in tables:
                        for k in self.raw_items(t):
                                self.w.dynamodb.delete_item(TableName=t, Key={'student_id': {'S': k[0]},
                                                                              'course': {'S': k[1]}})

        def report(self, key):
                try:
                        return self.w.read_object(self.w.errors, key + '.rejected.csv').decode()
                except Exception:
                        return None

        def load_both(self, name, body, split_prefix='split/', whole_prefix='whole/', tables=(SPLIT_T, WHOLE_T),
                      upload_as=None):
                """Uploads body under both prefixes; returns the two summaries."""
                self.clear(*tables)
                for p in (split_prefix, whole_prefix):
                        self.w.upload(p + name, body)
                self.w.wait_for_queue_empty(timeout=120)
                msgs = self.w.read_sns_messages(expect=2, timeout=30)
                by_key = {m['Message']['key']: m['Message'] for m in msgs}
                return by_key[split_prefix + name], by_key[whole_prefix + name]

        def assert_same(self, name, body, split_prefix='split/', whole_prefix='whole/', tables=(SPLIT_T, WHOLE_T)):
                s, u = self.load_both(name, body, split_prefix, whole_prefix, tables)
                log = self.w.daemon_log()
                m = re.findall(r'Reading s3://\S+/%s \(\d+ bytes\) as (\d+) ranges starting at ([0-9 ]+):'
                               % re.escape(split_prefix + name), log)
                self.assertTrue(m, f'{split_prefix + name} was not read split:\n{log[-3000:]}')
                self.assertNotIn(whole_prefix + name + ' (', log)
                for f in ('status', 'rows_total', 'rows_written', 'rows_rejected'):
                        self.assertEqual(s[f], u[f], f)
                split_items, whole_items = self.raw_items(tables[0]), self.raw_items(tables[1])
                self.assertEqual(sorted(split_items), sorted(whole_items))
                for k, it in whole_items.items():
                        self.assertEqual(split_items[k], it, k)         # every attribute, typed
                self.assertEqual(self.report(split_prefix + name), self.report(whole_prefix + name))
                return s, m[-1]

        def test_quoted_corpus(self):
                # a seed whose offsets fall inside quoted line breaks, UTF-8 and CRLF
                for seed in range(200):
                        body = build_csv(seed, 400)
                        if coverage(body) >= {'utf8', 'crlf', 'quoted-newline'}:
                                break
                else:
                        self.fail('no corpus covers the boundary cases')
                summary, (n, starts) = self.assert_same(f'quoted-{seed}.csv', body)
                self.assertEqual(summary['status'], 'PARTIAL')
                self.assertGreater(summary['rows_rejected'], 10)
                self.assertGreater(summary['rows_written'], 300)
                self.assertEqual(int(n), RANGES)
                proven = re.findall(r'quoted-%d\.csv .*: (\d+) start\(s\) proven by a probe' % seed,
                                    self.w.daemon_log())
                self.assertGreaterEqual(int(proven[-1]), 10)    # the local proof, not the exact state
                rep = self.report('split/' + f'quoted-{seed}.csv')
                self.assertIn('row longer than max_row_bytes', rep)
                self.assertIn('quote inside an unquoted field', rep)

        def test_giant_field_hands_back(self):
                body = build_csv(7, 120, giant=True)
                _, (_, starts) = self.assert_same('giant.csv', body)
                st = [int(x) for x in starts.split()]
                self.assertLess(len(set(st)), len(st), f'no empty range: {st}')

        def test_quote_free_exact_state(self):
                # no quote: no probe can prove a start, every one comes from the exact state
                body = build_csv(3, 600, quote_free=True)
                self.assertNotIn(b'"', body)
                self.assert_same('plain.csv', body)
                self.assertRegex(self.w.daemon_log(),
                                 r'plain\.csv .*: 0 start\(s\) proven by a probe, 15 from the exact state')

        def test_jsonl(self):
                rng = random.Random(5)
                lines = []
                for i in range(500):
                        note = rng.choice(NOTES)
                        if rng.random() < 0.05:
                                lines.append('{"student_id": "A%05d", "note": "broken' % i)
                                continue
                        lines.append(json.dumps({'student_id': ('A%05d' if rng.random() > 0.05 else 'X%05d') % i,
                                                 'note': note, 'city': rng.choice(CITIES),
                                                 'course': 'C%d' % rng.randrange(4)}, ensure_ascii=rng.random() < 0.5))
                body = ('\n'.join(lines) + '\n').encode()
                # a .csv name: the world's S3 bridge notifies the queue for .csv keys only
                self.assert_same('rows-jsonl.csv', body, 'jlsplit/', 'jlwhole/', (JL_SPLIT_T, JL_WHOLE_T))

        def test_gzip_streams(self):
                body = build_csv(11, 300)
                for name in ('zipped.csv.gz', 'magic.csv'):
                        self.clear(SPLIT_T)
                        self.w.upload('split/' + name, gzip.compress(body))
                        self.w.wait_for_queue_empty(timeout=60)
                        msg = self.w.read_sns_messages(expect=1, timeout=30)[0]['Message']
                        self.assertEqual(msg['status'], 'PARTIAL', msg)
                        self.assertGreater(msg['rows_written'], 200)
                        self.assertNotIn('split/' + name + ' (', self.w.daemon_log())


if __name__ == '__main__':
        run_main()
