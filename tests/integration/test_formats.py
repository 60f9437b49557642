#!/usr/bin/python3
"""JSON Lines and DynamoDB-JSON input, column mapping and computed attributes, end to end: the
daemon loads each format into tables of its own, and every item is read back with boto3's
low-level client so each attribute's DynamoDB type (S, N, SS, NS, M, L, BOOL, NULL) is checked,
not just its value. Offline: `validate` rejects each file of the hostile corpora
(tests/data/bad-jsonl, bad-ddbjson) for its own reason at its line, and `infer-schema` on each
file of tests/data/good drafts a pipeline that passes --check-config and accepts the file."""
import copy
import gzip
import json
import os
import subprocess
import tempfile
import time
import unittest

import yaml

from daemonlib import SharedDaemonTestCase, drain_sns, run_main, s3_event_for

BIN = os.environ.get('S3BATCHD_BIN', 's3batchd')
SRC = os.environ.get('S3BATCHD_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
DATA = os.path.join(SRC, 'tests', 'data')

JSONL_TABLE = 'FORMATS_JSONL'
CSV_TABLE = 'FORMATS_CSV'
DDB_TABLE = 'FORMATS_DDB'

# Minimal top level for offline configs (validate, check-config).
OFFLINE = {
        'queue': {'url': 'https://sqs.eu-west-1.amazonaws.com/111122223333/q'},
        'archive': {'bucket': 'example-archive'},
        'errors': {'bucket': 'example-errors'},
}


def create_table(w, name, keys):
        w.dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=[{'AttributeName': n, 'AttributeType': t} for n, t, _ in keys],
                KeySchema=[{'AttributeName': n, 'KeyType': k} for n, _, k in keys],
                BillingMode='PAY_PER_REQUEST')
        w.dynamodb.get_waiter('table_exists').wait(TableName=name)


def raw_items(w, table):
        """{partition key value: item} with the wire types, e.g. {'tags': {'SS': [...]}}."""
        out = []
        for page in w.dynamodb.get_paginator('scan').paginate(TableName=table):
                out.extend(page['Items'])
        return out


def jsonl_pipeline(inbound):
        return {
                'name': 'jsonl', 'format': 'jsonl', 'table': JSONL_TABLE,
                'match': {'bucket': inbound, 'prefix': 'jsonl/', 'suffix': '.jsonl'},
                'csv': {'header_match': 'loose'},
                'columns': [
                        {'name': 'Student ID', 'attribute': 'student_id', 'required': True},
                        {'name': 'tags', 'type': 'string_set'},
                        {'name': 'scores', 'type': 'number_set'},
                        {'name': 'meta', 'type': 'map'},
                        {'name': 'history', 'type': 'list'},
                        {'name': 'big', 'type': 'integer'},
                        {'name': 'active', 'type': 'boolean'},
                        {'name': 'nick', 'default': 'none'},
                        {'name': 'gone', 'omit_if_null': False},
                        {'name': 'due', 'type': 'date'},
                ],
                'computed': [
                        {'attribute': 'line', 'from': 'source_line'},
                        {'attribute': 'src', 'from': 'source_key'},
                        {'attribute': 'etag', 'from': 'source_etag'},
                        {'attribute': 'at', 'from': 'ingested_at'},
                        {'attribute': 'tenant', 'constant': 'acme'},
                        {'attribute': 'expires_at', 'ttl': {'from': 'due', 'add_days': 30}},
                        {'attribute': 'ttl_now', 'ttl': {'from': 'ingested_at', 'add_days': 1}},
                ],
                # the sort key is computed: one item per line
                'key': {'partition': 'student_id', 'sort': 'line'},
                'max_rejected_rows': 5,
        }


def csv_pipeline(inbound):
        return {
                'name': 'csvmap', 'table': CSV_TABLE,
                'match': {'bucket': inbound, 'prefix': 'csv/', 'suffix': '.csv'},
                'csv': {'delimiter': ',', 'header_match': 'loose'},
                'columns': [
                        {'name': 'student_id', 'attribute': 'sid', 'required': True},
                        {'name': 'tags', 'type': 'string_set', 'separator': ';'},
                        {'name': 'scores', 'type': 'number_set'},
                        {'name': 'meta', 'type': 'map'},
                        {'name': 'history', 'type': 'list'},
                        {'name': 'nick', 'default': 'none'},
                        {'name': 'gone', 'omit_if_null': False},
                ],
                'computed': [{'attribute': 'src', 'from': 'source_key'}],
                'key': {'partition': 'sid'},
        }


def ddb_pipeline(inbound):
        return {
                'name': 'ddb', 'format': 'ddb-json', 'table': DDB_TABLE,
                'match': {'bucket': inbound, 'prefix': 'ddb/', 'suffix': '.json.gz'},
                'key': {'partition': 'pk'},
                'max_rejected_rows': 5,
        }


class Formats(SharedDaemonTestCase):
        @classmethod
        def configure(cls, w):
                create_table(w, JSONL_TABLE, [('student_id', 'S', 'HASH'), ('line', 'N', 'RANGE')])
                create_table(w, CSV_TABLE, [('sid', 'S', 'HASH')])
                create_table(w, DDB_TABLE, [('pk', 'S', 'HASH')])
                pipelines = [jsonl_pipeline(w.inbound), csv_pipeline(w.inbound), ddb_pipeline(w.inbound)]
                return w.make_daemon_config(pipelines=pipelines, workers=2)

        def setUp(self):
                drain_sns(self.w)

        def upload(self, key, body, **kw):
                """The world notifies the queue for .csv keys only: other keys get their event
                sent here, as S3 would send it."""
                put = self.w.upload(key, body, **kw)
                if not key.endswith('.csv'):
                        self.w.sqs.send_message(QueueUrl=self.w.queue_url,
                                                MessageBody=s3_event_for(self.w, self.w.inbound, [key]))
                return put

        def test_jsonl_end_to_end(self):
                key = 'jsonl/day1.jsonl'
                lines = [
                        {'student_id': 'A1', 'tags': ['x', 'y'], 'scores': [1, 2.50, 1e2],
                         'meta': {'a': 1, 'b': [True, None, 's']}, 'history': [1, 'two'],
                         'big': 123456789012345678901234567890, 'active': True, 'due': '2026-01-01'},
                        {'Student_ID': 'A2', 'tags': 'p|q', 'scores': '3|4', 'gone': None, 'nick': None},
                        {'student_id': 'A3', 'tags': ['x', 'x']},
                ]
                # big: json.dumps would write the int exactly; the daemon must keep every digit
                body = '\n'.join(json.dumps(x) for x in lines) + '\n\n'
                t0 = int(time.time())
                put = self.upload(key, body, content_type='application/x-ndjson')
                self.w.wait_for_queue_empty(timeout=60)
                t1 = int(time.time())
                items = {(i['student_id']['S'], i['line']['N']): i for i in raw_items(self.w, JSONL_TABLE)
                         if i['student_id']['S'].startswith('A')}
                self.assertEqual(sorted(items), [('A1', '1'), ('A2', '2')])
                a1, a2 = items[('A1', '1')], items[('A2', '2')]
                self.assertEqual(sorted(a1['tags']['SS']), ['x', 'y'])
                self.assertEqual(sorted(a1['scores']['NS'], key=float), ['1', '2.5', '100'])
                self.assertEqual(a1['meta'], {'M': {'a': {'N': '1'}, 'b': {'L': [{'BOOL': True}, {'NULL': True}, {'S': 's'}]}}})
                self.assertEqual(a1['history'], {'L': [{'N': '1'}, {'S': 'two'}]})
                self.assertEqual(a1['big'], {'N': '123456789012345678901234567890'})
                self.assertEqual(a1['active'], {'BOOL': True})
                self.assertEqual(a1['nick'], {'S': 'none'})          # default for a missing value
                self.assertEqual(a1['gone'], {'NULL': True})          # missing is null, written as NULL
                self.assertEqual(a1['due'], {'S': '2026-01-01'})
                self.assertEqual(a1['src'], {'S': key})
                self.assertEqual(a1['etag'], {'S': put['ETag'].strip('"')})
                self.assertEqual(a1['tenant'], {'S': 'acme'})
                # TTL: epoch seconds of 2026-01-01T00:00:00Z plus 30 days, as a Number
                self.assertEqual(a1['expires_at'], {'N': str(1767225600 + 30 * 86400)})
                self.assertTrue(t0 + 86400 - 5 <= int(a1['ttl_now']['N']) <= t1 + 86400 + 5, a1['ttl_now'])
                self.assertRegex(a1['at']['S'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
                self.assertEqual(sorted(a2['tags']['SS']), ['p', 'q'])
                self.assertEqual(sorted(a2['scores']['NS']), ['3', '4'])
                self.assertEqual(a2['gone'], {'NULL': True})          # omit_if_null: false
                self.assertEqual(a2['nick'], {'S': 'none'})
                self.assertNotIn('expires_at', a2)                    # no date, no TTL
                env = self.w.read_sns_messages(expect=1, timeout=15)[0]['Message']
                self.assertEqual((env['status'], env['rows_total'], env['rows_written'], env['rows_rejected']),
                                 ('PARTIAL', 3, 2, 1))

        def run_cmd(self, *args):
                return subprocess.run([BIN, '--config', self.config, *args], env=self.w.daemon_env(),
                                      capture_output=True, text=True, timeout=120)

        def test_process_and_backfill_source_etag(self):
                """`process` and `backfill` have no event: the ETag the rows carry comes from S3."""
                put = self.w.upload('jsonl/manual/p.jsonl', '{"student_id": "P1"}\n', content_type='application/x-ndjson')
                p = self.run_cmd('process', f's3://{self.w.inbound}/jsonl/manual/p.jsonl')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(json.loads(p.stdout)['status'], 'SUCCESS')
                puts = {k: self.w.upload(f'jsonl/bf/{k}.jsonl', f'{{"student_id": "{k}"}}\n{{"student_id": "{k}"}}\n',
                                         content_type='application/x-ndjson') for k in ('B1', 'B2')}
                p = self.run_cmd('backfill', f's3://{self.w.inbound}/jsonl/bf/')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn('2 file(s): 2 success', p.stdout)
                items = {(i['student_id']['S'], i['line']['N']): i for i in raw_items(self.w, JSONL_TABLE)
                         if i['student_id']['S'][0] in 'PB'}
                self.assertEqual(sorted(items), [('B1', '1'), ('B1', '2'), ('B2', '1'), ('B2', '2'), ('P1', '1')])
                self.assertEqual(items[('P1', '1')]['etag'], {'S': put['ETag'].strip('"')})
                self.assertEqual(items[('P1', '1')]['src'], {'S': 'jsonl/manual/p.jsonl'})
                for k in ('B1', 'B2'):
                        for line in ('1', '2'):
                                self.assertEqual(items[(k, line)]['etag'], {'S': puts[k]['ETag'].strip('"')})
                                self.assertEqual(items[(k, line)]['src'], {'S': f'jsonl/bf/{k}.jsonl'})

        def test_csv_mapping(self):
                body = ('Student ID,Tags,scores,meta,history,nick,gone\n'
                        'C1,a;b,1|2.0,"{""k"": [1, {""x"": null}]}","[""h""]",,\n'
                        'C2,solo,7,{},[],Neo,there\n')
                self.w.upload('csv/map.csv', body)
                self.w.wait_for_queue_empty(timeout=60)
                items = {i['sid']['S']: i for i in raw_items(self.w, CSV_TABLE)}
                self.assertEqual(sorted(items), ['C1', 'C2'])
                c1, c2 = items['C1'], items['C2']
                self.assertNotIn('student_id', c1)    # written under its attribute name
                self.assertEqual(sorted(c1['tags']['SS']), ['a', 'b'])
                self.assertEqual(sorted(c1['scores']['NS']), ['1', '2'])
                self.assertEqual(c1['meta'], {'M': {'k': {'L': [{'N': '1'}, {'M': {'x': {'NULL': True}}}]}}})
                self.assertEqual(c1['history'], {'L': [{'S': 'h'}]})
                self.assertEqual(c1['nick'], {'S': 'none'})
                self.assertEqual(c1['gone'], {'NULL': True})
                self.assertEqual(c1['src'], {'S': 'csv/map.csv'})
                self.assertEqual(c2['tags'], {'SS': ['solo']})
                self.assertEqual(c2['meta'], {'M': {}})
                self.assertEqual(c2['history'], {'L': []})
                self.assertEqual(c2['nick'], {'S': 'Neo'})
                self.assertEqual(c2['gone'], {'S': 'there'})

        def test_ddb_json_gzip(self):
                good = [{'Item': {'pk': {'S': 'd1'}, 'n': {'N': '1.50'}, 'ss': {'SS': ['a', 'b']},
                                  'b': {'B': 'AAE='}, 'bs': {'BS': ['AAE=', 'AAI=']},
                                  'm': {'M': {'l': {'L': [{'NULL': True}, {'BOOL': False}]}}}}},
                        {'Item': {'pk': {'S': 'd2'}, 'ns': {'NS': ['1', '2']}}}]
                bad = {'Item': {'pk': {'S': 'd3'}, 'x': {'SS': []}}}
                body = '\n'.join(json.dumps(x) for x in good + [bad]) + '\n'
                self.upload('ddb/export.json.gz', gzip.compress(body.encode()), content_type='application/gzip')
                self.w.wait_for_queue_empty(timeout=60)
                items = {i['pk']['S']: i for i in raw_items(self.w, DDB_TABLE)}
                self.assertEqual(sorted(items), ['d1', 'd2'])
                self.assertEqual(items['d1']['n'], {'N': '1.5'})
                self.assertEqual(sorted(items['d1']['ss']['SS']), ['a', 'b'])
                self.assertEqual(items['d1']['b'], {'B': b'\x00\x01'})
                self.assertEqual(sorted(items['d1']['bs']['BS']), [b'\x00\x01', b'\x00\x02'])
                self.assertEqual(items['d1']['m'], {'M': {'l': {'L': [{'NULL': True}, {'BOOL': False}]}}})
                self.assertEqual(sorted(items['d2']['ns']['NS']), ['1', '2'])
                env = self.w.read_sns_messages(expect=1, timeout=15)[0]['Message']
                self.assertEqual((env['status'], env['rows_written'], env['rows_rejected']), ('PARTIAL', 2, 1))


def write_config(d, pipelines):
        path = os.path.join(d, 'c.yaml')
        with open(path, 'w') as f:
                yaml.safe_dump(dict(OFFLINE, pipelines=pipelines), f, sort_keys=False)
        return path


def run(*args, stdin=None):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, input=stdin)


class Offline(unittest.TestCase):
        def hostile(self, folder, pipeline):
                with tempfile.TemporaryDirectory() as d:
                        cfg = write_config(d, [pipeline])
                        with open(os.path.join(DATA, folder, 'EXPECTED')) as f:
                                expected = [line.rstrip('\n').split('\t') for line in f if line.strip()]
                        listed = {e[0] for e in expected}
                        for name in sorted(os.listdir(os.path.join(DATA, folder))):
                                if name != 'EXPECTED' and name not in listed and not name.startswith('ok_'):
                                        self.fail(f'{folder}/{name} has no line in EXPECTED')
                        for name, line, why in expected:
                                with self.subTest(file=name):
                                        r = run('-c', cfg, 'validate', '-p', pipeline['name'],
                                                os.path.join(DATA, folder, name))
                                        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                                        self.assertRegex(r.stdout, rf'{name}:{line}: (field \S+: )?[^\n]*' + (
                                                __import__('re').escape(why)))
                        for name in listed | set(os.listdir(os.path.join(DATA, folder))):
                                if name.startswith('ok_'):
                                        r = run('-c', cfg, 'validate', '-p', pipeline['name'],
                                                os.path.join(DATA, folder, name))
                                        self.assertEqual(r.returncode, 0, r.stdout)

        def test_bad_jsonl(self):
                self.hostile('bad-jsonl', {
                        'name': 'j', 'format': 'jsonl', 'table': 'T_1', 'match': {'bucket': 'inbound-x'},
                        'csv': {'max_row_bytes': 4096},
                        'columns': [{'name': 'id', 'required': True}, {'name': 'n', 'type': 'number'},
                                    {'name': 's'}, {'name': 'tags', 'type': 'string_set'},
                                    {'name': 'nums', 'type': 'number_set'}, {'name': 'meta', 'type': 'map'}],
                        'key': {'partition': 'id'}})

        def test_bad_ddbjson(self):
                self.hostile('bad-ddbjson', {
                        'name': 'd', 'format': 'ddb-json', 'table': 'T_1', 'match': {'bucket': 'inbound-x'},
                        'key': {'partition': 'pk'}})

        def test_infer_schema_good_corpus(self):
                good = os.path.join(DATA, 'good')
                files = sorted(os.listdir(good))
                self.assertGreaterEqual(len(files), 3)
                for name in files:
                        with self.subTest(file=name), tempfile.TemporaryDirectory() as d:
                                self.infer_round_trip(d, os.path.join(good, name), [])

        def test_infer_schema_jsonl(self):
                rows = [{'id': f'r{i}', 'n': i, 'x': i / 4, 'ok': i % 2 == 0, 'level': ['UG', 'PG'][i % 2],
                         'day': f'2026-01-{i % 28 + 1:02d}', 'meta': {'i': i}, 'l': [i], 'opt': None if i % 3 else 's'}
                        for i in range(40)]
                with tempfile.TemporaryDirectory() as d:
                        path = os.path.join(d, 'x.jsonl')
                        with open(path, 'w') as f:
                                f.write('\n'.join(json.dumps(r) for r in rows) + '\n')
                        draft = self.infer_round_trip(d, path, ['--format', 'jsonl'])
                types = {c['name']: c['type'] for c in draft['columns']}
                self.assertEqual(types, {'id': 'string', 'n': 'integer', 'x': 'number', 'ok': 'boolean',
                                         'level': 'enum', 'day': 'date', 'meta': 'map', 'l': 'list', 'opt': 'string'})
                self.assertEqual(draft['key'], {'partition': 'id'})
                self.assertNotIn('required', [c for c in draft['columns'] if c['name'] == 'opt'][0])

        def infer_round_trip(self, d, path, args):
                r = run('infer-schema', *args, path)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(all(not l or l.startswith(('#', ' ')) or l[0].isalpha() for l in r.stdout.splitlines()))
                # pasted under a pipeline, indented
                pasted = '\n'.join('    ' + l if l else l for l in r.stdout.splitlines())
                cfg = os.path.join(d, 'c.yaml')
                with open(cfg, 'w') as f:
                        f.write(yaml.safe_dump(OFFLINE, sort_keys=False))
                        f.write('pipelines:\n  - name: inferred\n    match: {bucket: inbound-x}\n    table: T_1\n')
                        f.write(pasted + '\n')
                c = run('-c', cfg, '--check-config', '--quiet')
                self.assertEqual(c.returncode, 0, c.stdout + c.stderr + open(cfg).read())
                v = run('-c', cfg, 'validate', '-p', 'inferred', path)
                self.assertEqual(v.returncode, 0, v.stdout + open(cfg).read())
                self.assertIn('ACCEPTED', v.stdout)
                return yaml.safe_load(r.stdout)


if __name__ == '__main__':
        run_main()
