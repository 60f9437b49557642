#!/usr/bin/python3
"""Ordered processing (issue 11): `ordering: per_prefix` runs the files of one group one at a
time in the order S3 created them (eventTime, then sequencer), whatever order their events
arrive in within the window, while different groups run side by side; `ordering: none` (the
control) does not; a FIFO queue's MessageGroupId order is kept whatever the events' times say.

The objects go to a bucket without notifications and the test sends their S3 events itself,
with chosen eventTime/sequencer and the objects' real ETags (the daemon pins its reads to
them), in an order of its choosing. What ran when comes from the SNS summaries: the
envelope's Timestamp (publish, after the file's rows were written) and the summary's
duration_ms give each file's interval. Every file of a group writes the same keys, so the
table also shows which file of a group was loaded last."""
import datetime
import json
import os
import unittest
import uuid

import yaml

from daemonlib import World, run_main, wait_until

HEADER = 'student_id,first_name,last_name,course\n'
GROUPS, FILES, ROWS = 4, 5, 150
BASE = datetime.datetime(2026, 11, 29, 6, 33, 56, 737000, tzinfo=datetime.timezone.utc)


def body(g, i):
        return HEADER + ''.join(f'A{g}{r:04d},G{g}F{i},L{r},C{g}\n' for r in range(ROWS))


def event(bucket, key, etag, when, sequencer):
        return json.dumps({'Records': [{
                'eventVersion': '2.1', 'eventSource': 'aws:s3', 'awsRegion': 'us-east-1',
                'eventTime': when.strftime('%Y-%m-%dT%H:%M:%S.') + f'{when.microsecond // 1000:03d}Z',
                'eventName': 'ObjectCreated:Put',
                's3': {'s3SchemaVersion': '1.0', 'configurationId': 'manual',
                       'bucket': {'name': bucket, 'arn': 'arn:aws:s3:::' + bucket},
                       'object': {'key': key, 'size': 1, 'eTag': etag, 'sequencer': sequencer}}}]})


def parse_ts(s):
        return datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()


class Ordering(unittest.TestCase):
        def setUp(self):
                self.w = World().__enter__()
                self.addCleanup(self.w.__exit__, None, None, None)
                self.addCleanup(self.stop)
                self.bucket = 'ordered-' + uuid.uuid4().hex[:8]
                self.w.s3.create_bucket(Bucket=self.bucket)

        def stop(self):
                status = self.w.stop_daemon()
                log = self.w.daemon_log()
                # a clean exit, also under the sanitizers (leaks make the status non-zero)
                if status not in (0, None) or 'runtime error' in log:
                        raise AssertionError(f's3batchd exited with {status}:\n{log[-4000:]}')

        def upload_all(self):
                """Uploads every file; returns {(g, i): (key, etag)}."""
                files = {}
                for g in range(GROUPS):
                        for i in range(FILES):
                                key = f'school-{g}/2026/f{i:02d}.csv'
                                r = self.w.upload(key, body(g, i), bucket=self.bucket)
                                files[(g, i)] = (key, r['ETag'].strip('"'))
                return files

        def send_events(self, files, queue_url, fifo=False, times=None):
                """Each group's events newest first, the groups interleaved: the order a
                standard queue might well hand them over in. FIFO: oldest first in each group,
                as the queue's SequenceNumbers then say, with the eventTimes TIMES(g, i)."""
                order = [(g, i) for i in (range(FILES) if fifo else reversed(range(FILES)))
                         for g in range(GROUPS)]
                for g, i in order:
                        key, etag = files[(g, i)]
                        when = times(g, i) if times else BASE + datetime.timedelta(seconds=i)
                        seq = f'{0x661647A4CBBE9 + 16 * i + g:018X}'
                        kw = {'MessageGroupId': f'school-{g}', 'MessageDeduplicationId': f'{g}-{i}'} if fifo else {}
                        self.w.sqs.send_message(QueueUrl=queue_url, MessageBody=event(self.bucket, key, etag, when, seq), **kw)
                return order

        def run_daemon(self, ordering, queue_url=None, workers=4):
                cfg = self.w.daemon_config(workers=workers, log_level='debug')
                if queue_url:
                        cfg['queue']['url'] = queue_url
                p = cfg['pipelines'][0]
                p['match'] = {'bucket': self.bucket, 'prefix': 'school-', 'suffix': '.csv'}
                p['ordering'] = ordering
                path = os.path.join(self.w.dir, 'ordered.yaml')
                with open(path, 'w') as f:
                        yaml.safe_dump(cfg, f, sort_keys=False)
                self.w.start_daemon(path)

        def summaries(self):
                """{(g, i): (start, end)} in seconds, from the SNS summaries."""
                envs = self.w.read_sns_messages(expect=GROUPS * FILES, timeout=120)
                out = {}
                for e in envs:
                        m = e['Message']
                        self.assertEqual(m['status'], 'SUCCESS', m)
                        g = int(m['key'].split('/')[0].split('-')[1])
                        i = int(m['key'].rsplit('f', 1)[1].split('.')[0])
                        end = parse_ts(e['Timestamp'])
                        out[(g, i)] = (end - m['duration_ms'] / 1000, end)
                self.assertEqual(len(out), GROUPS * FILES, sorted(out))
                return out

        def last_loaded(self):
                """{g: i of the file whose rows the table holds}"""
                seen = {}
                for it in self.w.scan_table():
                        g = int(it['student_id'][1])
                        seen.setdefault(g, set()).add(int(it['first_name'].split('F')[1]))
                self.assertTrue(all(len(v) == 1 for v in seen.values()), seen)
                return {g: v.pop() for g, v in seen.items()}

        def run_order(self, spans):
                """{g: [i in the order the group's files ran]}"""
                return {g: sorted(range(FILES), key=lambda i: spans[(g, i)][1]) for g in range(GROUPS)}

        def max_parallel(self, spans):
                points = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()],
                                key=lambda p: (p[0], p[1]))
                cur = best = 0
                for _, d in points:
                        cur += d
                        best = max(best, cur)
                return best

        def test_per_prefix_runs_each_group_in_creation_order(self):
                """20 files in 4 groups, each group's events sent newest first: each group runs
                oldest first and one at a time (each file starts after the previous one of its
                group published its summary), groups overlap, the newest file's rows win."""
                files = self.upload_all()
                self.send_events(files, self.w.queue_url)
                self.run_daemon({'mode': 'per_prefix', 'group': {'regex': '^(school-[0-9]+)/'}, 'window': 3})
                spans = self.summaries()
                order = self.run_order(spans)
                print(f'\nrun order per group: {order}; most files at once: {self.max_parallel(spans)}')
                for g in range(GROUPS):
                        self.assertEqual(order[g], list(range(FILES)), f'group {g} ran out of creation order')
                        for i in range(1, FILES):
                                # ms timestamps and two clocks: 5 ms of slack
                                self.assertGreaterEqual(spans[(g, i)][0], spans[(g, i - 1)][1] - 0.005,
                                                        f'group {g}: file {i} started before {i - 1} was done')
                self.assertGreaterEqual(self.max_parallel(spans), 2, 'the groups never ran side by side')
                self.assertEqual(self.last_loaded(), {g: FILES - 1 for g in range(GROUPS)})
                self.w.wait_for_queue_empty(timeout=30)

        def test_none_runs_as_received(self):
                """The control: without ordering the same events run newest first somewhere,
                and an older file's rows end up in the table (so the checks above can fail)."""
                files = self.upload_all()
                self.send_events(files, self.w.queue_url)
                self.run_daemon('none', workers=2)
                spans = self.summaries()
                order = self.run_order(spans)
                print(f'\nrun order per group without ordering: {order}')
                self.assertTrue(any(order[g] != list(range(FILES)) for g in range(GROUPS)), order)
                self.assertNotEqual(self.last_loaded(), {g: FILES - 1 for g in range(GROUPS)})

        def test_fifo_queue_keeps_group_order(self):
                """A FIFO queue (as EventBridge feeds one): files run in the queue's order per
                MessageGroupId even though their eventTimes say the opposite, groups side by
                side; each message is deleted before the next of its group comes."""
                q = self.w.sqs.create_queue(QueueName='ordered-events.fifo',
                                            Attributes={'FifoQueue': 'true', 'VisibilityTimeout': '30'})['QueueUrl']
                files = self.upload_all()
                self.send_events(files, q, fifo=True,
                                 times=lambda g, i: BASE + datetime.timedelta(seconds=FILES - i))
                # `none`: a FIFO queue's order holds whatever the pipeline says
                self.run_daemon('none', queue_url=q)
                spans = self.summaries()
                order = self.run_order(spans)
                print(f'\nrun order per group (FIFO): {order}; most files at once: {self.max_parallel(spans)}')
                for g in range(GROUPS):
                        self.assertEqual(order[g], list(range(FILES)), f'group {g} ran out of queue order')
                self.assertGreaterEqual(self.max_parallel(spans), 2)
                self.assertEqual(self.last_loaded(), {g: FILES - 1 for g in range(GROUPS)})
                wait_until(lambda: self.w.queue_depth(q) == (0, 0), 30, 'FIFO queue empty', self.w)


if __name__ == '__main__':
        run_main()
