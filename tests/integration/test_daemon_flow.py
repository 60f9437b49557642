#!/usr/bin/python3
"""The daemon end to end on one local world: every kind of body, every outcome, and the
`process` and `backfill` commands. One daemon serves the whole class; each test waits for the
queue to drain and then checks DynamoDB, the buckets and the SNS summaries."""
import copy
import gzip
import json
import os
import subprocess
import unittest
import uuid

from daemonlib import (REFERENCE_CSV, SharedDaemonTestCase, drain_sns, items_by_key, run_main,
                       s3_event, s3_event_for, wait_until)

MANUAL = 'manual-drop'          # not notified by the world's bridge: tests send the events


class DaemonFlow(SharedDaemonTestCase):
        @classmethod
        def configure(cls, w):
                w.s3.create_bucket(Bucket=MANUAL)
                base = w.daemon_config()['pipelines'][0]
                # deep copies: shared sub-dicts would become YAML anchors, which the loader
                # refuses on purpose
                students = dict(copy.deepcopy(base), max_rejected_rows=2,
                                match={'bucket': w.inbound, 'prefix': '', 'suffix': '.csv'})
                gz = dict(copy.deepcopy(base), name='students-gz',
                          match={'bucket': w.inbound, 'prefix': '', 'suffix': '.csv.gz'})
                strict = dict(copy.deepcopy(base), name='strict', write_mode='validate_first',
                              match={'bucket': MANUAL, 'prefix': 'strict/', 'suffix': '.csv'})
                manual = dict(copy.deepcopy(base), name='manual',
                              match={'bucket': MANUAL, 'prefix': '', 'suffix': '.csv'})
                return w.make_daemon_config(pipelines=[students, gz, strict, manual], workers=2)

        def setUp(self):
                drain_sns(self.w)

        def settle(self, timeout=60):
                self.w.wait_for_queue_empty(timeout=timeout)

        def send(self, body):
                self.w.sqs.send_message(QueueUrl=self.w.queue_url, MessageBody=body)

        def sns(self, n):
                # for n == 0, listen a while: nothing may arrive
                msgs = self.w.read_sns_messages(expect=max(n, 1), timeout=15 if n else 2)
                self.assertEqual(len(msgs), n, msgs)
                return msgs

        def assert_archived(self, key, body, bucket=None):
                self.assertEqual(self.w.read_object(self.w.archive, key), body.encode() if isinstance(body, str) else body)
                self.assertNotIn(key, self.w.list_keys(bucket or self.w.inbound))

        # --- the reference file ------------------------------------------------------------
        def test_reference_csv(self):
                key = 'students/2026-11-29.csv'
                put = self.w.upload(key, REFERENCE_CSV)
                self.settle()
                items = items_by_key(self.w)
                self.assertEqual(items[('A00001', 'CS101')],
                                 {'student_id': 'A00001', 'first_name': 'Ada', 'last_name': 'Lovelace',
                                  'course': 'CS101'})
                for sid, first, last, course in (('A00002', 'Alan', 'Turing', 'CS102'),
                                                 ('A00003', 'Grace', 'Hopper', 'CS101'),
                                                 ('A00004', 'Edsger', 'Dijkstra', 'CS103')):
                        self.assertEqual(items[(sid, course)]['first_name'], first)
                        self.assertEqual(items[(sid, course)]['last_name'], last)
                self.assert_archived(key, REFERENCE_CSV)
                env = self.sns(1)[0]
                self.assertEqual(env['Subject'], 's3batchd SUCCESS students/2026-11-29.csv')
                m = env['Message']
                self.assertEqual(m['status'], 'SUCCESS')
                self.assertEqual(m['pipeline'], 'students')
                self.assertEqual(m['bucket'], self.w.inbound)
                self.assertEqual(m['key'], key)
                self.assertEqual(m['etag'], put['ETag'].strip('"'))
                self.assertEqual((m['rows_total'], m['rows_written'], m['rows_rejected'], m['rows_superseded']),
                                 (4, 4, 0, 0))
                self.assertEqual(m['archive_location'], f's3://{self.w.archive}/{key}')
                self.assertGreaterEqual(m['duration_ms'], 0)
                self.assertEqual(env['MessageAttributes']['status']['Value'], 'SUCCESS')
                self.assertEqual(env['MessageAttributes']['pipeline']['Value'], 'students')

        def test_key_with_spaces_and_non_ascii(self):
                key = 'grades/2024 spring/class A+B é=ü.csv'
                body = 'student_id,first_name,last_name,course\nA00011,Émile,Zoë,ART 1\n'
                self.w.upload(key, body)
                self.settle()
                self.assertEqual(items_by_key(self.w)[('A00011', 'ART 1')]['first_name'], 'Émile')
                self.assert_archived(key, body)
                env = self.sns(1)[0]
                self.assertEqual(env['Message']['key'], key)
                subject = env['Subject']
                self.assertTrue(subject.isascii() and len(subject) < 100, subject)
                self.assertTrue(subject.startswith('s3batchd SUCCESS grades/2024 spring/class A+B '), subject)

        def test_long_key_subject_is_bounded(self):
                key = 'deep/' + 'x' * 150 + '/end-of-name.csv'
                self.w.upload(key, 'student_id,first_name,last_name,course\nA00012,A,B,C\n')
                self.settle()
                subject = self.sns(1)[0]['Subject']
                self.assertLess(len(subject), 100)
                self.assertTrue(subject.startswith('s3batchd SUCCESS ...'), subject)
                self.assertTrue(subject.endswith('/end-of-name.csv'), subject)

        # --- message shapes ----------------------------------------------------------------
        def test_multi_record_message(self):
                bodies = {f'multi/{i}.csv': f'student_id,first_name,last_name,course\nA0002{i},N{i},L{i},M{i}\n'
                          for i in range(3)}
                for k, b in bodies.items():
                        self.w.upload(k, b, bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, list(bodies)))
                self.settle()
                items = items_by_key(self.w)
                for i in range(3):
                        self.assertEqual(items[(f'A0002{i}', f'M{i}')]['first_name'], f'N{i}')
                for k, b in bodies.items():
                        self.assert_archived(k, b, bucket=MANUAL)
                self.assertEqual(sorted(e['Message']['key'] for e in self.sns(3)), sorted(bodies))

        def test_sns_wrapped_body(self):
                key = 'wrapped/one file.csv'
                body = 'student_id,first_name,last_name,course\nA00031,Sns,Wrapped,W1\n'
                self.w.upload(key, body, bucket=MANUAL)
                envelope = {'Type': 'Notification', 'MessageId': str(uuid.uuid4()),
                            'TopicArn': 'arn:aws:sns:us-east-1:000000000000:s3-fanout',
                            'Subject': 'Amazon S3 Notification', 'Message': s3_event_for(self.w, MANUAL, [key]),
                            'Timestamp': '2026-11-29T06:33:56.737Z', 'SignatureVersion': '1',
                            'Signature': 'x', 'SigningCertURL': 'https://example.invalid/c.pem',
                            'UnsubscribeURL': 'https://example.invalid/u'}
                self.send(json.dumps(envelope))
                self.settle()
                self.assertIn(('A00031', 'W1'), items_by_key(self.w))
                self.assert_archived(key, body, bucket=MANUAL)

        def test_eventbridge_body(self):
                key = 'eb/ö file.csv'
                body = 'student_id,first_name,last_name,course\nA00032,Event,Bridge,E1\n'
                put = self.w.upload(key, body, bucket=MANUAL)
                event = {'version': '0', 'id': str(uuid.uuid4()), 'detail-type': 'Object Created',
                         'source': 'aws.s3', 'account': '000000000000', 'time': '2026-11-29T06:33:56Z',
                         'region': 'us-east-1', 'resources': [f'arn:aws:s3:::{MANUAL}'],
                         'detail': {'version': '0', 'bucket': {'name': MANUAL},
                                    'object': {'key': key, 'size': len(body), 'etag': put['ETag'].strip('"'),
                                               'sequencer': '00000661647A4CBBE9'},
                                    'request-id': 'R', 'requester': '000000000000',
                                    'reason': 'PutObject'}}
                self.send(json.dumps(event))
                self.settle()
                self.assertIn(('A00032', 'E1'), items_by_key(self.w))
                self.assert_archived(key, body, bucket=MANUAL)

        def test_test_event_is_deleted(self):
                self.send(json.dumps({'Service': 'Amazon S3', 'Event': 's3:TestEvent',
                                      'Time': '2026-11-29T06:33:56.737Z', 'Bucket': self.w.inbound,
                                      'RequestId': 'X', 'HostId': 'Y'}))
                self.settle()
                # the log file is written by a reader thread of this process: give it a moment
                wait_until(lambda: 'TestEvent' in self.w.daemon_log(), 10, 'the TestEvent log line', self.w)
                self.sns(0)

        def test_object_removed_event_is_ignored(self):
                self.w.upload('removed/r.csv', REFERENCE_CSV, bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, ['removed/r.csv'], event='ObjectRemoved:Delete'))
                self.settle()
                self.assertIn('removed/r.csv', self.w.list_keys(MANUAL))
                self.assertIn('Ignoring ObjectRemoved:Delete event', self.w.daemon_log())
                self.sns(0)

        def test_empty_file_fails(self):
                self.w.upload('empty/e.csv', b'')
                self.settle()
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['rows_total']), ('FAILURE', 0))
                self.assertIn('empty/e.csv.error.json', self.w.list_keys(self.w.errors))

        def test_non_matching_key_is_deleted_and_left_alone(self):
                self.w.upload('notes/readme.txt', 'hello', bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, ['notes/readme.txt']))
                self.settle()
                self.assertIn('notes/readme.txt', self.w.list_keys(MANUAL))
                self.assertIn('No pipeline matches', self.w.daemon_log())
                self.sns(0)

        # --- outcomes ----------------------------------------------------------------------
        def test_partial_file_with_report(self):
                key = 'partial/p.csv'
                body = ('student_id,first_name,last_name,course\n'
                        'A00041,Good,Row,P1\n'
                        'BAD,Bad,Id,P1\n'
                        'A00042,Also,Good,P1\n')
                self.w.upload(key, body)
                self.settle()
                items = items_by_key(self.w)
                self.assertIn(('A00041', 'P1'), items)
                self.assertIn(('A00042', 'P1'), items)
                self.assertNotIn(('BAD', 'P1'), items)
                self.assert_archived(key, body)
                report = self.w.read_object(self.w.errors, key + '.rejected.csv').decode()
                lines = report.splitlines()
                self.assertEqual(lines[0], 'line,column,reason,row')
                self.assertEqual(len(lines), 2, report)
                self.assertTrue(lines[1].startswith('3,student_id,'), lines[1])
                self.assertTrue(lines[1].endswith(',"BAD,Bad,Id,P1"'), lines[1])
                env = self.sns(1)[0]
                self.assertEqual(env['Message']['status'], 'PARTIAL')
                self.assertEqual((env['Message']['rows_written'], env['Message']['rows_rejected']), (2, 1))
                self.assertEqual(env['Message']['report_location'], f's3://{self.w.errors}/{key}.rejected.csv')
                self.assertEqual(env['Subject'], f's3batchd PARTIAL {key}')

        def test_too_many_rejects_fails(self):
                key = 'partial/too-many.csv'
                body = 'student_id,first_name,last_name,course\n' + ''.join(
                        f'X{i},B,C,T1\n' for i in range(5))
                self.w.upload(key, body)
                self.settle()
                self.assertEqual(self.w.read_object(self.w.errors, key), body.encode())
                err = json.loads(self.w.read_object(self.w.errors, key + '.error.json'))
                self.assertEqual(err['status'], 'FAILURE')
                self.assertIn('too many rejected rows', err['reason'])
                self.assertEqual(self.sns(1)[0]['Message']['status'], 'FAILURE')

        def test_stream_mode_keeps_rows_before_a_fatal_reject(self):
                # 60 good rows (two batches of 25 sent), then more rejects than allowed
                good = ''.join(f'A{i:05d},S,M,SM1\n' for i in range(200, 260))
                body = 'student_id,first_name,last_name,course\n' + good + 'BAD1,x,y,SM1\n' * 3
                self.w.upload('stream/s.csv', body, bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, ['stream/s.csv']))
                self.settle()
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['rows_written']), ('FAILURE', 50))
                self.assertEqual(sum(1 for k in items_by_key(self.w) if k[1] == 'SM1'), 50)

        def test_validate_first_writes_nothing_from_a_bad_file(self):
                good = ''.join(f'A{i:05d},V,F,VF1\n' for i in range(300, 360))
                bad = 'student_id,first_name,last_name,course\n' + good + 'BAD2,x,y,VF1\n'
                self.w.upload('strict/bad.csv', bad, bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, ['strict/bad.csv']))
                self.settle()
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['pipeline'], m['rows_written']), ('FAILURE', 'strict', 0))
                self.assertNotIn('VF1', {k[1] for k in items_by_key(self.w)})
                self.assertIn('strict/bad.csv', self.w.list_keys(self.w.errors))
                # the same rows in a clean file are all written, in the second read
                self.w.upload('strict/good.csv', 'student_id,first_name,last_name,course\n' + good, bucket=MANUAL)
                self.send(s3_event_for(self.w, MANUAL, ['strict/good.csv']))
                self.settle()
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['rows_total'], m['rows_written']), ('SUCCESS', 60, 60))
                self.assertEqual(sum(1 for k in items_by_key(self.w) if k[1] == 'VF1'), 60)

        def test_wrong_header_fails(self):
                key = 'bad/header.csv'
                body = 'id,first,last,course\nA00051,X,Y,H1\n'
                self.w.upload(key, body)
                self.settle()
                self.assertNotIn(('A00051', 'H1'), items_by_key(self.w))
                self.assertNotIn(key, self.w.list_keys(self.w.inbound))
                self.assertNotIn(key, self.w.list_keys(self.w.archive))
                self.assertEqual(self.w.read_object(self.w.errors, key), body.encode())
                err = json.loads(self.w.read_object(self.w.errors, key + '.error.json'))
                self.assertEqual(err['status'], 'FAILURE')
                self.assertEqual(err['rows_written'], 0)
                self.assertIn('header', err['reason'].lower())
                env = self.sns(1)[0]
                self.assertEqual(env['Message']['status'], 'FAILURE')
                self.assertEqual(env['Message']['error_location'], f's3://{self.w.errors}/{key}')
                self.assertEqual(env['MessageAttributes']['status']['Value'], 'FAILURE')

        def test_gzip(self):
                key = 'zipped/students.csv.gz'
                body = gzip.compress(REFERENCE_CSV.replace('CS1', 'GZ').encode())
                self.w.upload(key, body, content_type='application/gzip')
                self.settle()
                items = items_by_key(self.w)
                self.assertEqual(items[('A00004', 'GZ03')]['last_name'], 'Dijkstra')
                self.assert_archived(key, body)
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['pipeline'], m['rows_written']), ('students-gz', 4))

        def test_duplicate_keys_last_wins(self):
                key = 'dups/d.csv'
                body = ('student_id,first_name,last_name,course\n'
                        'A00061,First,Version,D1\n'
                        'A00062,Other,Row,D1\n'
                        'A00061,Second,Version,D1\n'
                        'A00061,Third,Version,D1\n')
                self.w.upload(key, body)
                self.settle()
                items = items_by_key(self.w)
                self.assertEqual(items[('A00061', 'D1')]['first_name'], 'Third')
                self.assertEqual(items[('A00062', 'D1')]['first_name'], 'Other')
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['rows_total'], m['rows_written'], m['rows_superseded']),
                                 ('SUCCESS', 4, 2, 2))

        def test_redelivered_finished_event_is_recognised(self):
                key = 'again/r.csv'
                body = 'student_id,first_name,last_name,course\nA00071,Once,Only,R1\n'
                put = self.w.upload(key, body)
                self.settle()
                self.assertEqual(len(self.sns(1)), 1)
                # the same event once more, as SQS would redeliver it
                self.w.dynamodb.delete_item(TableName=self.w.table,
                                            Key={'student_id': {'S': 'A00071'}, 'course': {'S': 'R1'}})
                self.send(s3_event(self.w.inbound, [key], etags={key: put['ETag'].strip('"')}))
                self.settle()
                self.assertNotIn(('A00071', 'R1'), items_by_key(self.w))   # not rewritten
                self.sns(0)                                                 # not notified again
                self.assertIn('DONE_BEFORE', self.w.daemon_log())

        # --- commands ----------------------------------------------------------------------
        def run_cmd(self, *args):
                return subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--config', self.config, *args],
                                      env=self.w.daemon_env(), capture_output=True, text=True, timeout=120)

        def run_raw(self, *args):
                return subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), *args],
                                      env=self.w.daemon_env(), capture_output=True, text=True, timeout=120)

        def test_gzipped_csv_goes_to_the_csv_pipeline(self):
                # the manual bucket has no .csv.gz pipeline: 'manual' (.csv, compression auto) takes it
                key = 'gzonly/students.csv.gz'
                body = gzip.compress(REFERENCE_CSV.replace('CS1', 'ZG').encode())
                self.w.upload(key, body, bucket=MANUAL, content_type='application/gzip')
                self.send(s3_event_for(self.w, MANUAL, [key]))
                self.settle()
                self.assertEqual(items_by_key(self.w)[('A00002', 'ZG02')]['last_name'], 'Turing')
                self.assert_archived(key, body, bucket=MANUAL)
                m = self.sns(1)[0]['Message']
                self.assertEqual((m['status'], m['pipeline'], m['rows_written']), ('SUCCESS', 'manual', 4))
                self.assertNotIn('No pipeline matches', self.w.daemon_log())

        def test_options_after_the_command(self):
                key = 'after/one.csv.gz'
                body = gzip.compress(b'student_id,first_name,last_name,course\nA00085,Af,Ter,AF1\n')
                self.w.upload(key, body, bucket=MANUAL)
                p = self.run_raw('process', '--config', self.config, f's3://{MANUAL}/{key}')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual((json.loads(p.stdout)['status'], json.loads(p.stdout)['pipeline']),
                                 ('SUCCESS', 'manual'))
                self.assertIn(('A00085', 'AF1'), items_by_key(self.w))
                self.assert_archived(key, body, bucket=MANUAL)

                key = 'after/two.csv'
                self.w.upload(key, 'student_id,first_name,last_name,course\nA00086,Tw,O,AF1\n', bucket=MANUAL)
                p = self.run_raw('process', f's3://{MANUAL}/{key}', '-c', self.config, '--pipeline', 'strict')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(json.loads(p.stdout)['pipeline'], 'strict')

                for i in range(3):
                        self.w.upload(f'bfafter/{i}.csv', f'student_id,first_name,last_name,course\nA0087{i},B,A,BA\n',
                                      bucket=MANUAL)
                p = self.run_raw('backfill', '-c', self.config, f's3://{MANUAL}/bfafter/')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn('3 file(s): 3 success', p.stdout)

                # usage errors: exit 2, a message naming the command and the option, nothing done
                self.w.upload('after/three.csv', 'student_id,first_name,last_name,course\nA00088,T,H,AF1\n', bucket=MANUAL)
                for argv, msg in ((['process', '--bogus', '-c', self.config, f's3://{MANUAL}/after/three.csv'],
                                   "s3batchd process: unrecognized option '--bogus'"),
                                  (['backfill', '-c', self.config, '--pipeline', 'x', f's3://{MANUAL}/after/'],
                                   "s3batchd backfill: option '--pipeline' does not apply to this command"),
                                  (['process', '-c', self.config], 's3batchd process: expected one s3://BUCKET/KEY'),
                                  (['process', f's3://{MANUAL}/after/three.csv', '--config'],
                                   "s3batchd process: option '--config' needs an argument")):
                        p = self.run_raw(*argv)
                        self.assertEqual(p.returncode, 2, (argv, p.stdout, p.stderr))
                        self.assertIn(msg, p.stderr)
                        self.assertEqual(p.stdout, '')
                self.assertIn('after/three.csv', self.w.list_keys(MANUAL))

        def test_process_command(self):
                key = 'proc/one.csv'
                body = 'student_id,first_name,last_name,course\nA00081,Pro,Cess,PR1\n'
                self.w.upload(key, body, bucket=MANUAL)
                p = self.run_cmd('process', f's3://{MANUAL}/{key}')
                self.assertEqual(p.returncode, 0, p.stderr)
                summary = json.loads(p.stdout)
                self.assertEqual((summary['status'], summary['rows_written']), ('SUCCESS', 1))
                self.assertIn(('A00081', 'PR1'), items_by_key(self.w))
                self.assert_archived(key, body, bucket=MANUAL)

                bad = 'proc/bad.csv'
                self.w.upload(bad, 'nope,header\n1,2\n', bucket=MANUAL)
                p = self.run_cmd('process', f's3://{MANUAL}/{bad}')
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertEqual(json.loads(p.stdout)['status'], 'FAILURE')
                p = self.run_cmd('process', 'not-a-url')
                self.assertEqual(p.returncode, 2)

        def test_backfill_command(self):
                bodies = {f'bf/{i:02d}.csv': f'student_id,first_name,last_name,course\nA0009{i},B{i},F{i},BF\n'
                          for i in range(7)}
                for k, b in bodies.items():
                        self.w.upload(k, b, bucket=MANUAL)
                self.w.upload('bf/skip.txt', 'not a csv', bucket=MANUAL)
                p = self.run_cmd('backfill', f's3://{MANUAL}/bf/')
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn('7 file(s)', p.stdout)
                items = items_by_key(self.w)
                for i in range(7):
                        self.assertEqual(items[(f'A0009{i}', 'BF')]['first_name'], f'B{i}')
                for k, b in bodies.items():
                        self.assert_archived(k, b, bucket=MANUAL)
                self.assertIn('bf/skip.txt', self.w.list_keys(MANUAL))

        def test_startup_checks_the_table_key_schema(self):
                base = self.w.daemon_config()['pipelines'][0]
                wrong = dict(copy.deepcopy(base), key={'partition': 'student_id', 'sort': 'first_name'})
                cfg = self.w.make_daemon_config(name='wrong-key.yaml', pipelines=[wrong])
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--config', cfg],
                                   env=self.w.daemon_env(), capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(f'table {self.w.table} has key (student_id, course) but the pipeline says '
                              '(student_id, first_name)', p.stderr)
                missing = dict(copy.deepcopy(base), table='NO_SUCH_TABLE')
                cfg = self.w.make_daemon_config(name='no-table.yaml', pipelines=[missing])
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--config', cfg, 'run'],
                                   env=self.w.daemon_env(), capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn('DescribeTable NO_SUCH_TABLE', p.stderr)
                # and the queue must be there
                cfg = self.w.make_daemon_config(name='no-queue.yaml', queue={
                        'url': self.w.queue_url.replace('inbound-file-events', 'no-such-queue')})
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--config', cfg, 'run'],
                                   env=self.w.daemon_env(), capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn('no-such-queue', p.stderr)
                self.assertNotIn('Ready', p.stderr)

        # --- last: leaves a message in flight ----------------------------------------------
        def test_zz_poison_message_left_for_redrive(self):
                self.send('this is not an event {')
                wait_until(lambda: 'Poison message' in self.w.daemon_log(), 20, 'poison logged', self.w)
                mid = [line for line in self.w.daemon_log().splitlines() if 'Poison message' in line][0]
                # not deleted: it is in flight, waiting for its visibility timeout (then the DLQ)
                self.assertEqual(self.w.queue_depth(), (0, 1))
                self.assertRegex(mid, r'SQS_MESSAGE_ID=\S+')
                self.w.check_daemon()


if __name__ == '__main__':
        run_main()
