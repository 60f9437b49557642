#!/usr/bin/python3
"""The daemon under DynamoDB trouble injected by the fault proxy (UnprocessedItems,
throttling, a table that never takes the rows), an S3 copy that fails inside a 200, and a
200,000-row file verified by count and sampled values."""
import json
import random
import time
import unittest

from daemonlib import SharedDaemonTestCase, World, run_main

HEADER = 'student_id,first_name,last_name,course\n'
BWI = 'DynamoDB_20120810.BatchWriteItem'


def rows(n, course):
        # student_id must match ^A[0-9]{5}$: past 100000 rows the course tells rows apart
        return HEADER + ''.join(f'A{i % 100000:05d},F{i},L{i},{course}{i // 100000 or ""}\n'
                                for i in range(n))


def count(w):
        n, kw = 0, {}
        while True:
                page = w.dynamodb.scan(TableName=w.table, Select='COUNT', **kw)
                n += page['Count']
                if 'LastEvaluatedKey' not in page:
                        return n
                kw['ExclusiveStartKey'] = page['LastEvaluatedKey']


class DynamoFaults(SharedDaemonTestCase):
        @classmethod
        def configure(cls, w):
                cls.proxy = w.start_fault_proxy('dynamodb')
                cls.s3proxy = w.start_fault_proxy('s3')
                # transient failures come back fast, and a file is given up on at its third
                # failed delivery
                return w.make_daemon_config(aws={'endpoints': {'dynamodb': cls.proxy.url,
                                                               's3': cls.s3proxy.url},
                                                 'max_attempts_batch': 4},
                                            queue={'retry_delay_min': 1, 'retry_delay_max': 2,
                                                   'max_receive_count': 2})

        def setUp(self):
                self.proxy.clear()
                self.s3proxy.clear()
                while self.w.receive(self.w.capture_url, wait=0):
                        pass

        def fired(self, fid, proxy=None):
                for f in (proxy or self.proxy).stats()['faults']:
                        if f['id'] == fid:
                                return f['fired']
                return None

        def outcome(self):
                sns = self.w.read_sns_messages(expect=1, timeout=15)
                self.assertEqual(len(sns), 1)
                return sns[0]['Message']

        def test_unprocessed_items_are_retried(self):
                fid = self.proxy.add('unprocessed', {'target': BWI}, times=3)
                self.w.upload('faults/unprocessed.csv', rows(100, 'U1'))
                self.w.wait_for_queue_empty(timeout=60)
                self.assertEqual(self.fired(fid), 3)
                m = self.outcome()
                self.assertEqual((m['status'], m['rows_written']), ('SUCCESS', 100))
                got = {i['student_id'] for i in self.w.scan_table() if i['course'] == 'U1'}
                self.assertEqual(got, {f'A{i:05d}' for i in range(100)})

        def test_throttling_is_retried(self):
                fid = self.proxy.add('status', {'target': BWI}, preset='dynamodb-throughput', times=2)
                self.w.upload('faults/throttled.csv', rows(60, 'T1'))
                self.w.wait_for_queue_empty(timeout=60)
                self.assertEqual(self.fired(fid), 2)
                m = self.outcome()
                self.assertEqual((m['status'], m['rows_written']), ('SUCCESS', 60))
                self.assertEqual(sum(1 for i in self.w.scan_table() if i['course'] == 'T1'), 60)

        def test_rows_never_accepted_are_retried_then_given_up(self):
                # one item per call gets through: 10 rows cannot be done in max_attempts_batch (4).
                # That is transient (RETRY, the file stays) until a failed delivery past
                # max_receive_count gives up on it.
                self.proxy.add('unprocessed', {'target': BWI}, times=-1, keep=1)
                key = 'faults/never.csv'
                self.w.upload(key, rows(10, 'N1'))
                self.w.wait_for_queue_empty(timeout=90)
                m = self.outcome()
                self.assertEqual((m['status'], m['rows_written']), ('FAILURE', 4))
                self.assertRegex(m['reason'], r'^gave up after 3 attempts: .*6 item\(s\) not written after 4 attempts')
                self.assertIn('RETRY s3://inbound-file-drop/faults/never.csv', self.w.daemon_log())
                err = json.loads(self.w.read_object(self.w.errors, key + '.error.json'))
                self.assertEqual(err['status'], 'FAILURE')
                self.assertIn(key, self.w.list_keys(self.w.errors))
                self.assertNotIn(key, self.w.list_keys(self.w.inbound))

        def test_throttled_for_good_is_retried_then_given_up(self):
                self.proxy.add('status', {'target': BWI}, preset='dynamodb-throughput', times=-1)
                key = 'faults/throttled-forever.csv'
                self.w.upload(key, rows(5, 'N2'))
                self.w.wait_for_queue_empty(timeout=90)
                m = self.outcome()
                self.assertEqual((m['status'], m['rows_written']), ('FAILURE', 0))
                self.assertRegex(m['reason'], r'^gave up after 3 attempts: .*ProvisionedThroughputExceeded')
                self.assertIn(key, self.w.list_keys(self.w.errors))

        def test_copy_error_inside_200_is_not_success(self):
                fid = self.s3proxy.add('copy-200-error', {'method': 'PUT'}, times=1)
                key = 'faults/copy.csv'
                self.w.upload(key, rows(3, 'C1'))
                self.w.wait_for_queue_empty(timeout=90)
                self.assertEqual(self.fired(fid, self.s3proxy), 1)
                # the failed copy was redone (by the client's retry or a redelivery): archived once
                self.assertEqual(self.w.read_object(self.w.archive, key), rows(3, 'C1').encode())
                self.assertNotIn(key, self.w.list_keys(self.w.inbound))
                self.assertEqual(self.outcome()['status'], 'SUCCESS')


class BigFile(unittest.TestCase):
        def test_200k_rows(self):
                n = 200_000
                with World() as w:
                        w.start_daemon(w.make_daemon_config(workers=2))
                        body = rows(n, 'BIG')
                        t0 = time.monotonic()
                        w.upload('big/200k.csv', body)
                        w.wait_for_queue_empty(timeout=400)
                        elapsed = time.monotonic() - t0
                        print(f'\n200k rows ({len(body) / 1e6:.1f} MB) loaded in {elapsed:.1f} s '
                              f'= {n / elapsed:.0f} rows/s', flush=True)
                        self.assertEqual(count(w), n)
                        rnd = random.Random(42)
                        for i in rnd.sample(range(n), 60) + [0, n - 1]:
                                course = f'BIG{i // 100000 or ""}'
                                it = w.dynamodb.get_item(TableName=w.table, ConsistentRead=True,
                                                         Key={'student_id': {'S': f'A{i % 100000:05d}'},
                                                              'course': {'S': course}})['Item']
                                self.assertEqual((it['first_name']['S'], it['last_name']['S']),
                                                 (f'F{i}', f'L{i}'))
                        m = w.read_sns_messages(expect=1, timeout=15)[0]['Message']
                        self.assertEqual((m['status'], m['rows_total'], m['rows_written']),
                                         ('SUCCESS', n, n))
                        self.assertEqual(w.list_keys(w.archive), ['big/200k.csv'])


if __name__ == '__main__':
        run_main()
