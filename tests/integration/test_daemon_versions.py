#!/usr/bin/python3
"""Version safety and retry-or-final, end to end (issue "Version-safe jobs").

Each test breaks one promise of docs/DESIGN.md the way real buckets and real AWS do: a key
uploaded twice while it loads, an event that arrives after a newer one, throttling that
outlasts the retries, a bucket that is missing or deleted, a kill between the summary and
the delete, deliveries that are not failures. Each starts its own world and daemon."""
import copy
import os
import signal
import unittest

from daemonlib import HEADER, rows, run_main, s3_event, wait_until, World

MANUAL = 'manual-drop'          # not notified by the bridge: tests send the events



def etag(put):
        return put['ETag'].strip('"')


class Versions(unittest.TestCase):
        def setUp(self):
                self.w = World().__enter__()

        def tearDown(self):
                self.w.__exit__(None, None, None)

        def summaries(self, expect, timeout=30):
                return [m['Message'] for m in self.w.read_sns_messages(expect=expect, timeout=timeout)]

        def manual_config(self, **overrides):
                """A daemon config whose one pipeline reads the un-notified MANUAL bucket."""
                w = self.w
                w.s3.create_bucket(Bucket=MANUAL)
                base = copy.deepcopy(w.daemon_config()['pipelines'][0])
                base['match'] = {'bucket': MANUAL, 'prefix': '', 'suffix': '.csv'}
                return w.make_daemon_config(pipelines=[base], **overrides)

        # --- the same key twice ------------------------------------------------------------
        def test_overwrite_during_a_load(self):
                """v2 lands while v1 loads (one worker): v2's rows win, the archive holds v2 and
                says so, v1 ends SUPERSEDED and never archives v2's bytes as its own."""
                w = self.w
                key = 'class/roster.csv'
                ddb = w.start_fault_proxy('dynamodb')
                ddb.add('delay', {'target': 'DynamoDB_20120810.BatchWriteItem'}, delay_ms=100, times=-1)
                w.start_daemon(w.make_daemon_config(workers=1, aws={'endpoints': {'dynamodb': ddb.url}},
                                                    notify={'on': ['success', 'partial', 'failure',
                                                                   'superseded']}))
                v1 = rows(1200, 'V', first='one')
                p1 = w.upload(key, v1)
                wait_until(lambda: ddb.stats()['by_target'].get('DynamoDB_20120810.BatchWriteItem', 0) >= 2,
                           timeout=30, what='v1 loading', world=w)
                v2 = rows(800, 'V', first='two')
                p2 = w.upload(key, v2)
                w.wait_for_queue_empty(timeout=180)

                items = {it['student_id']: it for it in w.scan_table()}
                stale = [i for i in range(800) if items[f'A{i:05d}']['first_name'] != f'two{i}']
                self.assertEqual(stale, [], 'rows of v1 left where v2 wrote the key')
                self.assertEqual(w.read_object(w.archive, key), v2.encode())
                head = w.s3.head_object(Bucket=w.archive, Key=key)
                self.assertEqual(head['Metadata'].get('s3batchd-source-etag'), etag(p2))
                self.assertNotIn(key, w.list_keys(w.inbound))
                by_etag = {m['etag']: m for m in self.summaries(2)}
                self.assertEqual(by_etag[etag(p2)]['status'], 'SUCCESS')
                self.assertEqual(by_etag[etag(p1)]['status'], 'SUPERSEDED', w.daemon_log())
                self.assertNotEqual(by_etag[etag(p1)]['event_id'], by_etag[etag(p2)]['event_id'])

        def test_older_event_after_the_newer_one_is_done(self):
                """Events for one key out of order: the older one (smaller sequencer) is
                recognised as superseded, not loaded and not taken for 'done before'."""
                w = self.w
                key = 'late.csv'
                w.start_daemon(self.manual_config(notify={'on': ['success', 'superseded']}))
                p1 = w.upload(key, rows(3, 'OLD', first='old'), bucket=MANUAL)
                p2 = w.upload(key, rows(3, 'NEW', first='new'), bucket=MANUAL)
                send = lambda p, seq: w.sqs.send_message(QueueUrl=w.queue_url, MessageBody=s3_event(
                        MANUAL, [key], etags={key: etag(p)}, sequencer=seq))
                send(p2, '0055AED6DCD90281E6')
                w.wait_for_queue_empty()
                self.assertEqual(self.summaries(1)[0]['status'], 'SUCCESS')
                send(p1, '0055AED6DCD90281E5')
                w.wait_for_queue_empty()
                m = self.summaries(1)[0]
                self.assertEqual((m['status'], m['etag']), ('SUPERSEDED', etag(p1)))
                self.assertEqual({it['course'] for it in w.scan_table()}, {'NEW'})
                self.assertEqual(w.read_object(w.archive, key), rows(3, 'NEW', first='new').encode())

        # --- deliveries are not failures ---------------------------------------------------
        def test_healthy_file_past_max_receive_count_loads(self):
                """A message received more often than max_receive_count (releases, deploys) is
                still loaded: only a failure of the attempt ends as 'gave up'."""
                w = self.w
                w.upload('busy.csv', rows(2, 'B1'))
                for _ in range(2):      # two deliveries that never failed, as releases do
                        m = w.receive(wait=5, delete=False, max_messages=1)[0]
                        w.sqs.change_message_visibility(QueueUrl=w.queue_url,
                                                        ReceiptHandle=m['ReceiptHandle'],
                                                        VisibilityTimeout=0)
                w.start_daemon(w.make_daemon_config(queue={'max_receive_count': 1}))
                w.wait_for_queue_empty()
                self.assertEqual(len(w.scan_table()), 2)
                self.assertIn('busy.csv', w.list_keys(w.archive))
                self.assertNotIn('busy.csv', w.list_keys(w.errors))
                self.assertEqual(self.summaries(1)[0]['status'], 'SUCCESS')

        def test_throttled_beyond_the_retries_then_healthy(self):
                """Throttling that outlasts every retry is transient: the file stays, and a later
                delivery loads it. It never goes to the error bucket."""
                w = self.w
                ddb = w.start_fault_proxy('dynamodb')
                ddb.add('status', {'target': 'DynamoDB_20120810.BatchWriteItem'},
                        preset='dynamodb-throughput', times=4)
                w.start_daemon(w.make_daemon_config(
                        queue={'visibility_timeout': 3, 'retry_delay_min': 1, 'retry_delay_max': 2},
                        aws={'endpoints': {'dynamodb': ddb.url}, 'max_attempts_batch': 2}))
                w.upload('hot.csv', rows(5, 'T1'))
                w.wait_for_queue_empty(timeout=90)
                self.assertEqual(len(w.scan_table()), 5)
                self.assertIn('hot.csv', w.list_keys(w.archive))
                self.assertEqual(w.list_keys(w.errors), [])
                self.assertIn('RETRY s3://', w.daemon_log())
                self.assertEqual([m['status'] for m in self.summaries(1)], ['SUCCESS'])

        # --- resources missing -------------------------------------------------------------
        def test_missing_bucket_or_topic_at_startup(self):
                w = self.w
                bad = w.daemon_config()['notify']['topic_arn'] + '-missing'
                w.start_daemon(w.make_daemon_config(errors={'bucket': 'no-such-error-bucket'},
                                                    notify={'topic_arn': bad}))
                wait_until(lambda: w.daemon.poll() is not None, timeout=30, what='startup to fail')
                self.assertEqual(w.daemon.returncode, 1)
                log = w.daemon_log()
                self.assertIn('Bucket no-such-error-bucket (errors.bucket) does not exist', log)
                self.assertIn(f'Topic {bad} (notify.topic_arn) does not exist', log)
                self.assertNotIn('Ready', log)

        def test_error_bucket_deleted_at_runtime(self):
                """A file that fails while its error bucket is gone stays in inbound with its
                message; an ERROR names the bucket; once the bucket is back the file moves."""
                w = self.w
                w.s3.create_bucket(Bucket='err-runtime')
                w.start_daemon(w.make_daemon_config(errors={'bucket': 'err-runtime'},
                                                    queue={'visibility_timeout': 4, 'retry_delay_min': 1,
                                                           'retry_delay_max': 2}))
                wait_until(lambda: 'Ready' in w.daemon_log(), timeout=30, what='startup', world=w)
                w.s3.delete_bucket(Bucket='err-runtime')
                w.upload('bad.csv', 'this,is,not,the,header\n1,2,3,4,5\n')
                wait_until(lambda: 'CONFIG_ERROR s3://inbound-file-drop/bad.csv' in w.daemon_log(),
                           timeout=30, what='the configuration error', world=w)
                self.assertIn('err-runtime', w.daemon_log())
                self.assertIn('bad.csv', w.list_keys(w.inbound))
                self.assertNotEqual(w.queue_depth(), (0, 0), 'the message was deleted')
                self.assertEqual(self.summaries(0, timeout=2), [])
                w.s3.create_bucket(Bucket='err-runtime')
                w.wait_for_queue_empty(timeout=60)
                self.assertIn('bad.csv', w.list_keys('err-runtime'))
                self.assertIn('bad.csv.error.json', w.list_keys('err-runtime'))
                self.assertNotIn('bad.csv', w.list_keys(w.inbound))

        # --- summaries at least once ---------------------------------------------------------
        def test_publish_failing_beyond_the_retries_then_healthy(self):
                """A publish that keeps failing is a retry of the whole settle: the file stays in
                inbound until its summary is out, then it moves; the summary arrives."""
                w = self.w
                sns = w.start_fault_proxy('sns')
                sns.add('status', {'target': 'SNS.Publish'}, preset='sns-throttling', times=3)
                w.start_daemon(w.make_daemon_config(queue={'visibility_timeout': 3, 'retry_delay_min': 1,
                                                           'retry_delay_max': 2},
                                                    aws={'endpoints': {'sns': sns.url}, 'max_attempts': 1}))
                w.upload('quiet.csv', rows(2, 'Q1'))
                wait_until(lambda: 'RETRY s3://inbound-file-drop/quiet.csv' in w.daemon_log(),
                           timeout=30, what='a retry', world=w)
                w.wait_for_queue_empty(timeout=60)
                got = self.summaries(1)
                self.assertEqual([(m['key'], m['status']) for m in got], [('quiet.csv', 'SUCCESS')])
                self.assertNotIn('quiet.csv', w.list_keys(w.inbound))
                self.assertIn('quiet.csv', w.list_keys(w.archive))

        # --- a row is never made from the middle of a field ---------------------------------
        def test_long_quoted_field_with_a_row_like_line_is_never_written(self):
                """A quoted field longer than max_row_bytes whose text holds a line that looks like
                a row: the record is rejected whole, the line inside it never becomes an item."""
                w = self.w
                base = copy.deepcopy(w.daemon_config()['pipelines'][0])
                base['csv']['max_row_bytes'] = 4096
                base['max_rejected_rows'] = 1
                w.start_daemon(w.make_daemon_config(pipelines=[base]))
                # the row-like line comes after max_row_bytes: where a resync that ignores
                # quotes would start again
                inside = 'x' * 5000 + '\nA99999,Evil,Row,CS666\n' + 'y' * 3000
                body = HEADER + 'A00001,Ada,Lovelace,CS101\n' + f'A00002,"{inside}",Turing,CS102\n' + \
                        'A00003,Grace,Hopper,CS101\n'
                w.upload('quoted.csv', body)
                w.wait_for_queue_empty()
                ids = sorted(it['student_id'] for it in w.scan_table())
                self.assertEqual(ids, ['A00001', 'A00003'])
                m = self.summaries(1)[0]
                self.assertEqual((m['status'], m['rows_rejected']), ('PARTIAL', 1))

        # --- a kill in the wrong millisecond -----------------------------------------------
        def test_kill_while_the_summary_is_published(self):
                """SIGKILL while the SNS publish is in flight: the file's summary still arrives
                (the inbound delete comes after it, so the redelivery redoes the publish)."""
                w = self.w
                sns = w.start_fault_proxy('sns')
                # holds the publish, then fails it without ever forwarding it
                sns.add('delay', {'target': 'SNS.Publish'}, delay_ms=30000, status=500, times=1)
                cfg = w.make_daemon_config(queue={'visibility_timeout': 3},
                                           aws={'endpoints': {'sns': sns.url}})
                w.start_daemon(cfg)
                w.upload('kill.csv', rows(3, 'K1'))
                wait_until(lambda: any(r['target'] == 'SNS.Publish' for r in sns.requests()),
                           timeout=30, what='the publish to start', world=w)
                os.killpg(w.daemon.pid, signal.SIGKILL)
                w.daemon.wait()
                w.daemon = None
                sns.clear()
                w.start_daemon(cfg)
                w.wait_for_queue_empty(timeout=60)
                got = self.summaries(1)
                self.assertGreaterEqual(len(got), 1)
                self.assertEqual({m['key'] for m in got}, {'kill.csv'})
                self.assertEqual(got[0]['status'], 'SUCCESS')
                self.assertNotIn('kill.csv', w.list_keys(w.inbound))


if __name__ == '__main__':
        run_main()
