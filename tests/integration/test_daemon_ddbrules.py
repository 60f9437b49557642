#!/usr/bin/python3
"""DynamoDB's key rules are ROW rules: a row DynamoDB would refuse (a sort key over 1024 bytes,
an empty value for a GSI key attribute) is rejected on its own, with a reason in the report,
and never fails the BatchWriteItem of the 24 rows batched with it.

dynalite enforces the key length limits (as it counts them, in UTF-16 units) but not the
index key rules; the fault proxy in front of it answers a BatchWriteItem that carries an
empty GSI key value with the ValidationException DynamoDB sends ("Detecting and correcting
index key violations" in the DynamoDB developer guide), so the test holds against AWS's rules
rather than the emulator's leniency."""
import copy
import os
import subprocess
import tempfile
import unittest

from daemonlib import SharedDaemonTestCase, World, drain_sns, run_main, wait_until

GSI_TABLE = 'STUDENTS_BY_NAME'
GSI = 'by_last_name'
HEADER = 'student_id,first_name,last_name,course\n'
LONG = 'x' * 1100           # a 1,100-byte sort key: DynamoDB allows 1,024
EMPTY_GSI_KEY = r'"last_name":\{"S":""\}'
VALIDATION = {'__type': 'com.amazon.coral.validate#ValidationException',
              'message': 'One or more parameter values are not valid. A value specified for a '
                         'secondary index key is not supported. The AttributeValue for a key '
                         f'attribute cannot contain an empty string value. IndexName: {GSI}, '
                         'IndexKey: last_name'}


def create_gsi_table(w):
        w.dynamodb.create_table(
                TableName=GSI_TABLE,
                AttributeDefinitions=[{'AttributeName': n, 'AttributeType': 'S'}
                                      for n in ('student_id', 'course', 'last_name')],
                KeySchema=[{'AttributeName': 'student_id', 'KeyType': 'HASH'},
                           {'AttributeName': 'course', 'KeyType': 'RANGE'}],
                GlobalSecondaryIndexes=[{
                        'IndexName': GSI,
                        'KeySchema': [{'AttributeName': 'last_name', 'KeyType': 'HASH'}],
                        'Projection': {'ProjectionType': 'ALL'},
                        'ProvisionedThroughput': {'ReadCapacityUnits': 5, 'WriteCapacityUnits': 5}}],
                ProvisionedThroughput={'ReadCapacityUnits': 5, 'WriteCapacityUnits': 5})
        w.dynamodb.get_waiter('table_exists').wait(TableName=GSI_TABLE)


def gsi_pipeline(base, **over):
        """The students pipeline into the GSI table, where "" is a value (null_values: [NULL])
        and last_name is optional (a NULL leaves it out: the item is just not in the index)."""
        p = dict(copy.deepcopy(base), name='gsi', table=GSI_TABLE, max_rejected_rows=10,
                 match={'bucket': base['match']['bucket'], 'prefix': 'gsi/', 'suffix': '.csv'})
        p['csv'] = dict(p['csv'], null_values=['NULL'])
        p['columns'] = [dict(c, required=False) if c['name'] == 'last_name' else c for c in p['columns']]
        p.update(over)
        return p


class DdbRules(SharedDaemonTestCase):
        @classmethod
        def configure(cls, w):
                create_gsi_table(w)
                cls.proxy = w.start_fault_proxy('dynamodb')
                base = w.daemon_config()['pipelines'][0]
                inbound = {'bucket': w.inbound, 'suffix': '.csv'}
                strict0 = dict(copy.deepcopy(base), name='strict0', write_mode='validate_first',
                               max_rejected_rows=0, match=dict(inbound, prefix='strict0/'))
                strict5 = dict(copy.deepcopy(base), name='strict5', write_mode='validate_first',
                               max_rejected_rows=5, match=dict(inbound, prefix='strict5/'))
                cls.base = base
                return w.make_daemon_config(pipelines=[strict0, strict5, gsi_pipeline(base)], workers=2,
                                            aws={'endpoints': {'dynamodb': cls.proxy.url}})

        def setUp(self):
                drain_sns(self.w)
                self.proxy._call('POST', '/reset')      # faults, stats and the request log

        def settle(self):
                self.w.wait_for_queue_empty(timeout=90)

        def summary(self):
                msgs = self.w.read_sns_messages(expect=1, timeout=20)
                self.assertEqual(len(msgs), 1, msgs)
                return msgs[0]['Message']

        def report_lines(self, key):
                return self.w.read_object(self.w.errors, key + '.rejected.csv').decode().splitlines()

        def batch_statuses(self):
                return [r['status'] for r in self.proxy.requests()
                        if r.get('target') == 'DynamoDB_20120810.BatchWriteItem']

        def rows_with_course(self, course, table=None):
                return [i for i in self.w.scan_table(table) if i['course'] == course]

        @staticmethod
        def hundred_rows(course, bad_at=50):
                """100 rows; row bad_at (line bad_at + 2) has the 1,100-byte sort key."""
                rows = [f'A{10000 + i:05d},F{i},L{i},{LONG if i == bad_at else course}\n' for i in range(100)]
                return HEADER + ''.join(rows)

        # --- (a) a 1,100-byte sort key in validate_first --------------------------------------
        def test_long_sort_key_fails_the_file_and_writes_nothing(self):
                """The issue: zero rows written, one rejected row reported."""
                key = 'strict0/long-sort-key.csv'
                body = self.hundred_rows('DR1')
                self.w.upload(key, body)
                self.settle()
                m = self.summary()
                self.assertEqual((m['status'], m['rows_written'], m['rows_rejected']), ('FAILURE', 0, 1), m)
                self.assertIn('too many rejected rows', m.get('reason', ''))
                self.assertEqual(self.rows_with_course('DR1'), [])
                lines = self.report_lines(key)
                self.assertEqual(len(lines), 2, lines)
                self.assertTrue(lines[1].startswith('52,course,'), lines[1])
                self.assertIn('sort key course is 1100 bytes; DynamoDB allows 1024', lines[1])
                self.assertEqual(self.w.read_object(self.w.errors, key), body.encode())
                # nothing was sent, so nothing failed
                self.assertEqual(self.batch_statuses(), [])

        def test_long_sort_key_is_one_rejected_row_when_tolerated(self):
                key = 'strict5/long-sort-key.csv'
                self.w.upload(key, self.hundred_rows('DR2', bad_at=10))
                self.settle()
                m = self.summary()
                self.assertEqual((m['status'], m['rows_total'], m['rows_written'], m['rows_rejected']),
                                 ('PARTIAL', 100, 99, 1), m)
                self.assertEqual(len(self.rows_with_course('DR2')), 99)
                lines = self.report_lines(key)
                self.assertEqual(len(lines), 2, lines)
                self.assertTrue(lines[1].startswith('12,course,sort key course is 1100 bytes'), lines[1])
                self.assertIn('A10010,F10,L10,' + LONG, lines[1])
                statuses = self.batch_statuses()
                self.assertEqual(len(statuses), 4, statuses)     # 99 rows: 25 + 25 + 25 + 24
                self.assertEqual(set(statuses), {200})

        # --- (b) a GSI key attribute that is empty ----------------------------------------------
        def test_empty_gsi_key_rejects_only_its_rows(self):
                fault = self.proxy.add('status', {'target': 'DynamoDB_20120810.BatchWriteItem',
                                                  'body': EMPTY_GSI_KEY},
                                       status=400, body=VALIDATION, times=-1)
                key = 'gsi/empty-last-name.csv'
                rows = []
                for i in range(60):
                        last = '' if i % 10 == 3 else ('NULL' if i == 7 else f'L{i}')
                        rows.append(f'A{20000 + i:05d},F{i},{last},G1\n')
                self.w.upload(key, HEADER + ''.join(rows))
                self.settle()
                m = self.summary()
                self.assertEqual((m['status'], m['rows_total'], m['rows_written'], m['rows_rejected']),
                                 ('PARTIAL', 60, 54, 6), m)
                items = {i['student_id']: i for i in self.w.scan_table(GSI_TABLE) if i['course'] == 'G1'}
                self.assertEqual(len(items), 54)
                for i in range(3, 60, 10):
                        self.assertNotIn(f'A{20000 + i:05d}', items)
                # NULL: written without the attribute (a sparse index), not rejected
                self.assertNotIn('last_name', items['A20007'])
                self.assertEqual(items['A20008']['last_name'], 'L8')
                lines = self.report_lines(key)
                self.assertEqual(len(lines), 7, lines)
                for line, i in zip(lines[1:], range(3, 60, 10)):
                        self.assertTrue(line.startswith(f'{i + 2},last_name,GSI {GSI} key last_name is empty,'), line)
                # no BatchWriteItem carried an empty index key, none failed
                fired = [f for f in self.proxy.stats()['faults'] if f['id'] == fault]
                self.assertEqual(fired[0]['fired'], 0, fired)
                statuses = self.batch_statuses()
                self.assertEqual(len(statuses), 3, statuses)     # 54 rows: 25 + 25 + 4
                self.assertEqual(set(statuses), {200})


class DdbRulesStartup(unittest.TestCase):
        def test_index_type_mismatch_is_a_startup_error(self):
                """An integer column feeding a GSI key declared S would make DynamoDB refuse every
                row with a value: the daemon refuses to start, saying which index and column."""
                with World() as w:
                        create_gsi_table(w)
                        base = w.daemon_config()['pipelines'][0]
                        cols = [dict(c, type='integer', pattern=None) if c['name'] == 'last_name' else c
                                for c in gsi_pipeline(base)['columns']]
                        cols = [{k: v for k, v in c.items() if v is not None} for c in cols]
                        config = w.make_daemon_config(pipelines=[gsi_pipeline(base, columns=cols)])
                        proc = w.start_daemon(config)
                        wait_until(lambda: proc.poll() is not None, timeout=30, what='daemon exit')
                        self.assertNotEqual(w.stop_daemon(), 0)
                        self.assertIn(f'table {GSI_TABLE} declares GSI {GSI} key last_name as S (string), '
                                      'but column last_name is integer and writes N (number)', w.daemon_log())


class ValidateOffline(unittest.TestCase):
        """`s3batchd validate` applies the key length rules from the config's key, offline."""

        def test_validate_rejects_the_long_sort_key(self):
                config = os.path.join(os.environ.get('S3BATCHD_SRCDIR', '.'), 'conf', 's3batchd.yaml')
                with tempfile.TemporaryDirectory() as d:
                        csv = os.path.join(d, 'f.csv')
                        with open(csv, 'w') as f:
                                f.write(DdbRules.hundred_rows('V1'))
                        p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--config', config,
                                            'validate', '-p', 'students', csv],
                                           capture_output=True, text=True, timeout=60)
                self.assertIn(f'{csv}:52: column 4 (course): sort key course is 1100 bytes; '
                              'DynamoDB allows 1024', p.stdout)
                self.assertIn('100 rows, 99 valid, 1 rejected', p.stdout)


if __name__ == '__main__':
        run_main()
