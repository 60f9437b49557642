#!/usr/bin/python3
"""Every call of common/aws/ against the local world (fauxqs S3/SQS/SNS, dynalite), checked
with boto3: SQS receive/delete/visibility (single and batch) and attributes; S3 get (streamed,
ranged, constant memory), head, put, copy (single and multipart), delete, list with
pagination; DynamoDB batch write and describe table; SNS publish with attributes."""
import hashlib
import json
import os
import tempfile
import time
import unittest
import uuid

from awscalllib import WorldTestCase, awscall, requests, valgrind_usable, VALGRIND
from s3_partcopy_shim import PartCopyShim

MiB = 1024 * 1024


class AwsCalls(WorldTestCase):
        @classmethod
        def prepare(cls, w):
                cls.tmp = tempfile.mkdtemp(prefix='awscall-', dir=w.dir)

        def call(self, *args, **kw):
                return awscall(self.w, *args, **kw)

        def file(self, data):
                path = os.path.join(self.tmp, uuid.uuid4().hex)
                with open(path, 'wb') as f:
                        f.write(data)
                return path

        # --- SQS ----------------------------------------------------------------------
        def fresh_queue(self):
                return self.w.sqs.create_queue(QueueName='q-' + uuid.uuid4().hex[:12])['QueueUrl']

        def test_sqs_receive_delete(self):
                q = self.fresh_queue()
                for i in range(3):
                        self.w.sqs.send_message(QueueUrl=q, MessageBody=f'body {i} "quoted" \u00e9')
                got = []
                deadline = time.monotonic() + 10
                while len(got) < 3 and time.monotonic() < deadline:
                        got += self.call('sqs-receive', q, '10', '1', '30')['result']
                self.assertEqual(sorted(m['body'] for m in got),
                                 [f'body {i} "quoted" \u00e9' for i in range(3)])
                for m in got:
                        self.assertEqual(m['receive_count'], 1)
                        self.assertTrue(m['message_id'] and m['receipt_handle'])
                self.call('sqs-delete', q, got[0]['receipt_handle'])
                out = self.call('sqs-delete-batch', q, *[m['receipt_handle'] for m in got[1:]])
                self.assertEqual(out['result']['failed'], 0)
                self.assertEqual(self.w.queue_depth(q), (0, 0))

        def test_sqs_fifo_attributes(self):
                """A FIFO queue's messages come with their MessageGroupId and SequenceNumber
                (the daemon keeps each group's order with them); a standard queue's without."""
                q = self.w.sqs.create_queue(QueueName='q-' + uuid.uuid4().hex[:12] + '.fifo',
                                            Attributes={'FifoQueue': 'true'})['QueueUrl']
                for i in range(2):
                        self.w.sqs.send_message(QueueUrl=q, MessageBody=f'f{i}', MessageGroupId='grp/1',
                                                MessageDeduplicationId=f'd{i}')
                seqs = []
                for i in range(2):
                        got = self.call('sqs-receive', q, '10', '2', '30')['result']
                        self.assertEqual([m['body'] for m in got], [f'f{i}'])
                        self.assertEqual(got[0]['message_group_id'], 'grp/1')
                        self.assertRegex(got[0]['sequence_number'], r'^[0-9]+$')
                        seqs.append(int(got[0]['sequence_number']))
                        self.call('sqs-delete', q, got[0]['receipt_handle'])
                self.assertLess(seqs[0], seqs[1])
                std = self.fresh_queue()
                self.w.sqs.send_message(QueueUrl=std, MessageBody='s')
                got = self.call('sqs-receive', std, '1', '2', '30')['result']
                self.assertNotIn('message_group_id', got[0])
                self.assertNotIn('sequence_number', got[0])

        def test_sqs_empty_long_poll_waits(self):
                q = self.fresh_queue()
                t0 = time.monotonic()
                out = self.call('sqs-receive', q, '10', '2', '30')
                self.assertEqual(out['result'], [])
                self.assertGreaterEqual(time.monotonic() - t0, 1.9)

        def test_sqs_visibility(self):
                q = self.fresh_queue()
                self.w.sqs.send_message(QueueUrl=q, MessageBody='v')
                m = self.call('sqs-receive', q, '1', '5', '300')['result'][0]
                self.assertEqual(self.w.queue_depth(q), (0, 1))
                # back to visible at once: the next receive sees it again, counted twice
                self.call('sqs-visibility', q, m['receipt_handle'], '0')
                again = self.call('sqs-receive', q, '1', '5', '300')['result']
                self.assertEqual(len(again), 1)
                self.assertEqual(again[0]['receive_count'], 2)
                out = self.call('sqs-visibility-batch', q, '0', again[0]['receipt_handle'])
                self.assertEqual(out['result'], {'failed': 0, 'entries': [{'code': 0, 'aws_code': ''}]})
                self.assertEqual(self.w.queue_depth(q), (1, 0))

        def test_sqs_batch_limits_and_attributes(self):
                q = self.fresh_queue()
                out = self.call('sqs-delete-batch', q, *['h'] * 11, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EINVAL')
                self.assertEqual(requests(out, 'sqs'), 0)      # refused before sending
                attrs = self.call('sqs-attributes', q)['result']
                self.assertIn('VisibilityTimeout', attrs)
                self.assertEqual(attrs['QueueArn'].rsplit(':', 1)[1], q.rsplit('/', 1)[1])
                one = self.call('sqs-attributes', q, 'ApproximateNumberOfMessages')['result']
                self.assertEqual(one, {'ApproximateNumberOfMessages': '0'})

        def test_sqs_without_endpoint_goes_to_the_queue_url_host(self):
                """No SQS endpoint configured: requests go to the queue URL's own host. The
                world's queue URLs name sqs.us-east-1.localhost:PORT, which is loopback."""
                q = self.fresh_queue()
                self.assertIn('.localhost:', q)
                self.w.sqs.send_message(QueueUrl=q, MessageBody='direct')
                out = self.call('sqs-receive', q, '1', '2', '30', sqs=None)
                self.assertEqual([m['body'] for m in out['result']], ['direct'])
                # and with no endpoint and a queue URL nobody serves, the call fails there
                dead = 'http://127.0.0.1:9/000000000000/nothing'
                out = self.call('sqs-receive', dead, '1', '0', '30', sqs=None, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ECONNREFUSED')

        def test_sqs_missing_queue(self):
                q = self.w.queue_url.rsplit('/', 1)[0] + '/no-such-queue'
                out = self.call('sqs-receive', q, '1', '0', '30', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ENOENT')
                self.assertEqual(out['error']['http_status'], 400)
                self.assertEqual(requests(out, 'sqs'), 1)      # not retried

        def test_sqs_large_receive(self):
                """10 messages of 256 KiB arrive whole in one receive (the body cap allows it)."""
                q = self.fresh_queue()
                bodies = [(chr(ord('a') + i) * 64 + '"\\') * (256 * 1024 // 66) for i in range(10)]
                for b in bodies:
                        self.w.sqs.send_message(QueueUrl=q, MessageBody=b)
                got = []
                deadline = time.monotonic() + 10
                while len(got) < 10 and time.monotonic() < deadline:
                        got += self.call('sqs-receive', q, '10', '1', '60')['result']
                self.assertEqual(sorted(m['body'] for m in got), sorted(bodies))

        # --- S3 -----------------------------------------------------------------------
        def put_big(self, key, size):
                """A SIZE-byte object through boto3's multipart upload (fauxqs refuses single
                PUTs over 11 MiB); returns its bytes."""
                data = os.urandom(1024) * (size // 1024)
                from boto3.s3.transfer import TransferConfig
                self.w.s3.upload_file(self.file(data), self.w.inbound, key,
                                      Config=TransferConfig(multipart_threshold=8 * MiB,
                                                            multipart_chunksize=8 * MiB),
                                      ExtraArgs={'ContentType': 'text/csv',
                                                 'Metadata': {'source': 'test', 'batch-id': '42'},
                                                 'CacheControl': 'no-cache'})
                return data

        def test_s3_put_head_get_delete(self):
                key = 'dir/a b+c&d=e%f/ünï €.csv'
                body = b'student_id,course\nA00001,math\n'
                self.call('s3-put', self.w.inbound, key, self.file(body), 'text/csv')
                self.assertEqual(self.w.read_object(self.w.inbound, key), body)
                head = self.call('s3-head', self.w.inbound, key)['result']
                self.assertEqual(head['size'], len(body))
                self.assertEqual(head['etag'], hashlib.md5(body).hexdigest())
                self.assertEqual(head['content_type'], 'text/csv')
                got = self.call('s3-get', self.w.inbound, key)['result']
                self.assertEqual(got['sha256'], hashlib.sha256(body).hexdigest())
                self.assertEqual(got['info']['etag'], head['etag'])
                ranged = self.call('s3-get', self.w.inbound, key, 'bytes=11-16')['result']
                self.assertEqual(ranged['sha256'], hashlib.sha256(body[11:17]).hexdigest())
                self.assertEqual(ranged['info']['size'], len(body))   # from Content-Range
                self.call('s3-delete', self.w.inbound, key)
                self.assertNotIn(key, self.w.list_keys(self.w.inbound))
                # S3 answers 204 for a missing key too
                self.call('s3-delete', self.w.inbound, key)
                out = self.call('s3-head', self.w.inbound, key, expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['http_status']), ('ENOENT', 404))
                out = self.call('s3-get', self.w.inbound, key, expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['aws_code']), ('ENOENT', 'NoSuchKey'))
                self.assertTrue(out['error']['request_id'])
                out = self.call('s3-get', self.w.inbound, 'x', expect_ok=False, opts=['--max-attempts', '1'])
                self.assertEqual(out['error']['errno'], 'ENOENT')

        def test_s3_get_streams_with_constant_memory(self):
                small = self.put_big('mem/small.bin', 64 * 1024)
                big = self.put_big('mem/big.bin', 48 * MiB)
                s = self.call('s3-get', self.w.inbound, 'mem/small.bin')['result']
                b = self.call('s3-get', self.w.inbound, 'mem/big.bin')['result']
                self.assertEqual(s['sha256'], hashlib.sha256(small).hexdigest())
                self.assertEqual(b['sha256'], hashlib.sha256(big).hexdigest())
                self.assertEqual(b['bytes'], 48 * MiB)
                self.assertGreater(b['chunks'], 100)            # delivered piecewise
                self.assertLessEqual(b['max_chunk'], 1 * MiB)
                # 48 MiB went through; the process grew by far less than that
                grew = b['max_rss_kb'] - s['max_rss_kb']
                self.assertLess(grew, 12 * 1024, f'RSS grew {grew} KiB for a 48 MiB object')

        def test_s3_get_callback_abort(self):
                self.put_big('mem/abort.bin', 4 * MiB)
                out = self.call('s3-get', self.w.inbound, 'mem/abort.bin', '-', str(MiB), expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ECANCELED')
                self.assertEqual(requests(out, 's3'), 1)        # a callback's no is not retried

        def test_s3_bad_range(self):
                self.w.upload('range.csv', b'abc')
                out = self.call('s3-get', self.w.inbound, 'range.csv', 'bytes=10-20', expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['http_status']), ('ERANGE', 416))

        def test_s3_copy_single(self):
                key = 'copy/src ü+&.csv'
                self.w.upload(key, b'a,b\n1,2\n', content_type='text/csv')
                self.call('s3-copy', self.w.inbound, key, self.w.archive, 'copied/' + key)
                self.assertEqual(self.w.read_object(self.w.archive, 'copied/' + key), b'a,b\n1,2\n')
                h = self.w.s3.head_object(Bucket=self.w.archive, Key='copied/' + key)
                self.assertEqual(h['ContentType'], 'text/csv')
                out = self.call('s3-copy', self.w.inbound, 'copy/missing', self.w.archive, 'x', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ENOENT')

        def test_s3_copy_multipart(self):
                """Above the threshold the copy goes CreateMultipartUpload + UploadPartCopy ranges
                + Complete; lowered here (S3 parts are ≥ 5 MiB) to 6 MiB with 5 MiB parts.
                fauxqs has no UploadPartCopy: s3_partcopy_shim does it as S3 documents."""
                data = self.put_big('copy/big.bin', 12 * MiB + 1024)
                shim = PartCopyShim(self.w.info['endpoints']['s3'])
                with shim as s3:
                        out = self.call('s3-copy', self.w.inbound, 'copy/big.bin', self.w.archive,
                                        'copy/big.bin', s3=s3,
                                        opts=['--copy-threshold', str(6 * MiB), '--copy-part-size', str(5 * MiB)])
                # head + create + 3 parts + complete
                self.assertEqual(requests(out, 's3'), 6)
                self.assertEqual(shim.part_copies, [f'bytes=0-{5 * MiB - 1}', f'bytes={5 * MiB}-{10 * MiB - 1}',
                                                    f'bytes={10 * MiB}-{12 * MiB + 1023}'])
                copied = self.w.read_object(self.w.archive, 'copy/big.bin')
                self.assertEqual(hashlib.sha256(copied).hexdigest(), hashlib.sha256(data).hexdigest())
                h = self.w.s3.head_object(Bucket=self.w.archive, Key='copy/big.bin')
                self.assertTrue(h['ETag'].strip('"').endswith('-3'), h['ETag'])
                self.assertEqual(h['ContentType'], 'text/csv')
                src = self.w.s3.head_object(Bucket=self.w.inbound, Key='copy/big.bin')
                self.assertEqual(src['Metadata'], {'source': 'test', 'batch-id': '42'})
                self.assertEqual(h['Metadata'], src['Metadata'])            # as CopyObject would
                self.assertEqual(h.get('CacheControl'), src.get('CacheControl'))
                # below the threshold: one CopyObject after the head
                out = self.call('s3-copy', self.w.inbound, 'copy/big.bin', self.w.archive, 'copy/big2.bin')
                self.assertEqual(requests(out, 's3'), 2)
                self.assertEqual(self.w.read_object(self.w.archive, 'copy/big2.bin'), data)

        def test_s3_copy_multipart_failure_aborts(self):
                """A part that fails for good aborts the upload; nothing appears at the target."""
                self.put_big('copy/fail.bin', 12 * MiB)
                shim = PartCopyShim(self.w.info['endpoints']['s3'])
                with shim as s3:
                        proxy = self.w.start_fault_proxy(s3)
                        proxy.add('status', {'method': 'PUT', 'path': 'partNumber=2'}, preset='s3-internal', times=-1)
                        out = self.call('s3-copy', self.w.inbound, 'copy/fail.bin', self.w.archive, 'copy/fail.bin',
                                        s3=proxy.url, expect_ok=False,
                                        opts=['--copy-threshold', str(6 * MiB), '--copy-part-size', str(5 * MiB)])
                        log = proxy.requests()
                self.assertEqual(out['error']['aws_code'], 'InternalError')
                # head, create, part 1, part 2 × 3 attempts, abort
                self.assertEqual([(r['method'], 'uploadId' in r['url'] or 'uploads' in r['url']) for r in log],
                                 [('HEAD', False), ('POST', True), ('PUT', True), ('PUT', True), ('PUT', True),
                                  ('PUT', True), ('DELETE', True)])
                self.assertNotIn('copy/fail.bin', self.w.list_keys(self.w.archive))

        def test_s3_list_pagination(self):
                prefix = 'list-' + uuid.uuid4().hex[:6] + '/'
                keys = sorted(f'{prefix}k {i:04d}+ü.csv' for i in range(1003))
                for k in keys:
                        self.w.s3.put_object(Bucket=self.w.inbound, Key=k, Body=b'x', ContentType='text/csv')
                out = self.call('s3-list', self.w.inbound, prefix, '0')['result']
                self.assertEqual(out['pages'], 2)               # S3's default page is 1000 keys
                self.assertEqual(sorted(o['key'] for o in out['objects']), keys)
                small = self.call('s3-list', self.w.inbound, prefix + 'k 000', '3')['result']
                self.assertEqual(small['pages'], 4)             # 10 keys, 3 per page
                self.assertEqual([o['key'] for o in small['objects']], keys[:10])
                self.assertTrue(all(o['size'] == 1 for o in small['objects']))
                none = self.call('s3-list', self.w.inbound, 'no-such-prefix/', '0')['result']
                self.assertEqual(none, {'pages': 1, 'objects': []})

        # --- DynamoDB -----------------------------------------------------------------
        def test_dynamodb_batch_write_and_describe(self):
                tag = uuid.uuid4().hex[:6]
                items = [{'student_id': {'S': f'A{tag}{i:02d}'}, 'course': {'S': 'math'},
                          'first_name': {'S': f'Name "{i}" ü'}, 'grade': {'N': str(i)}}
                         for i in range(25)]
                path = self.file('\n'.join(json.dumps(i) for i in items).encode())
                out = self.call('ddb-batch-write', self.w.table, path)
                self.assertEqual(out['result'], {'unprocessed': []})
                rows = {r['student_id']: r for r in self.w.scan_table() if r['student_id'].startswith('A' + tag)}
                self.assertEqual(len(rows), 25)
                self.assertEqual(rows[f'A{tag}07']['first_name'], 'Name "7" ü')
                self.assertEqual(int(rows[f'A{tag}07']['grade']), 7)
                desc = self.call('ddb-describe', self.w.table)['result']
                self.assertEqual(desc, {'partition_key': 'student_id', 'partition_type': 'S',
                                        'sort_key': 'course', 'sort_type': 'S', 'table_status': 'ACTIVE'})

        def test_dynamodb_errors(self):
                one = self.file(b'{"student_id":{"S":"A1"},"course":{"S":"x"}}\n')
                out = self.call('ddb-batch-write', 'NoSuchTable', one, expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['aws_code']),
                                 ('ENOENT', 'ResourceNotFoundException'))
                dup = self.file(b'{"student_id":{"S":"A1"},"course":{"S":"x"}}\n' * 2)
                out = self.call('ddb-batch-write', self.w.table, dup, expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['aws_code']), ('EINVAL', 'ValidationException'))
                self.assertEqual(requests(out, 'dynamodb'), 1)
                many = self.file(b'{"student_id":{"S":"A1"},"course":{"S":"x"}}\n' * 26)
                out = self.call('ddb-batch-write', self.w.table, many, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EINVAL')
                self.assertEqual(requests(out, 'dynamodb'), 0)
                out = self.call('ddb-describe', 'NoSuchTable', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ENOENT')

        # --- SNS ----------------------------------------------------------------------
        def test_sns_publish_with_attributes(self):
                self.w.read_sns_messages(expect=100, timeout=1)         # drain
                msg = json.dumps({'status': 'SUCCESS', 'key': 'a b.csv', 'rows': 3})
                out = self.call('sns-publish', self.w.topic_arn, 'File processed: SUCCESS', msg,
                                'status=SUCCESS', 'bucket=inbound-file-drop', 'note=a&b=c ü')
                self.assertTrue(out['result']['message_id'])
                got = self.w.read_sns_messages(expect=1, timeout=10)
                self.assertEqual(len(got), 1)
                env = got[0]
                self.assertEqual(env['MessageText'], msg)
                self.assertEqual(env['Subject'], 'File processed: SUCCESS')
                self.assertEqual(env['TopicArn'], self.w.topic_arn)
                self.assertEqual(env['MessageId'], out['result']['message_id'])
                attrs = {k: v['Value'] for k, v in env['MessageAttributes'].items()}
                self.assertEqual(attrs, {'status': 'SUCCESS', 'bucket': 'inbound-file-drop', 'note': 'a&b=c ü'})
                self.assertEqual({v['Type'] for v in env['MessageAttributes'].values()}, {'String'})

        def test_sns_validation_like_real_sns(self):
                """fauxqs accepts these; real SNS does not, so neither do we (nothing is sent)."""
                for subject in ('x' * 100, 'line\nbreak', ' leading space', 'tab\there', 'ünicode'):
                        out = self.call('sns-publish', self.w.topic_arn, subject, 'm', expect_ok=False)
                        self.assertEqual(out['error']['errno'], 'EINVAL', subject)
                        self.assertEqual(requests(out, 'sns'), 0)
                for attr in ('AWS.x=1', '.x=1', 'a..b=1', 'sp ace=1', 'x='):
                        out = self.call('sns-publish', self.w.topic_arn, 's', 'm', attr, expect_ok=False)
                        self.assertEqual(out['error']['errno'], 'EINVAL', attr)
                out = self.call('sns-publish', self.w.topic_arn, 's', 'm', *[f'a{i}=v' for i in range(11)],
                                expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EINVAL')
                out = self.call('sns-publish', self.w.topic_arn, 'x' * 99, 'm')
                self.assertTrue(out['ok'])
                out = self.call('sns-publish', self.w.topic_arn, '', 'no subject')
                self.assertTrue(out['ok'])

        # --- memory -------------------------------------------------------------------
        @unittest.skipUnless(valgrind_usable(), 'needs valgrind and a build without sanitizers')
        def test_valgrind_clean(self):
                """One call per service and the main failure shapes under valgrind: no invalid
                access, no definite or indirect leak (exit 99 otherwise)."""
                self.w.upload('vg/a.csv', b'a,b\n' * 5000)
                q = self.fresh_queue()
                self.w.sqs.send_message(QueueUrl=q, MessageBody='vg')
                items = self.file(b'{"student_id":{"S":"VG1"},"course":{"S":"x"}}\n')
                calls = [
                        (True, 's3-get', self.w.inbound, 'vg/a.csv'),
                        (True, 's3-copy', self.w.inbound, 'vg/a.csv', self.w.archive, 'vg/a.csv'),
                        (True, 'sqs-receive', q, '10', '1', '30'),
                        (True, 'ddb-batch-write', self.w.table, items),
                        (True, 'sns-publish', self.w.topic_arn, 's', 'm', 'k=v'),
                        (False, 's3-get', self.w.inbound, 'vg/missing'),
                ]
                for ok, *args in calls:
                        out = self.call(*args, wrapper=VALGRIND, expect_ok=ok)
                        self.assertEqual(out['_exit'], 0 if ok else 1, out['_stderr'])
                        self.assertEqual(out['_stderr'], '', args)


if __name__ == '__main__':
        unittest.main(verbosity=2)
