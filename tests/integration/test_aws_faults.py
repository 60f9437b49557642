#!/usr/bin/python3
"""Every error path of the shared request → sign → send → classify → retry path, with faults
injected by tests/world/fault-proxy.js in front of the local world: throttling and 5xx then
success, retries running out, connection refused and reset, timeouts, CopyObject's 200 with
<Error>, malformed and oversized bodies, a transfer cut mid-body, UnprocessedItems, and
clock skew corrected from the Date header (also checked on the wire with a server of our own
that records X-Amz-Date)."""
import email.utils
import hashlib
import http.server
import json
import os
import socket
import tempfile
import threading
import time
import unittest
import uuid
import zlib

from awscalllib import WorldTestCase, awscall, requests, retries

MiB = 1024 * 1024
BATCH = 'DynamoDB_20120810.BatchWriteItem'
DESCRIBE = 'DynamoDB_20120810.DescribeTable'


def http_date(t):
        return email.utils.formatdate(t, usegmt=True)


def codes(out, service):
        return {c['code']: c['count'] for c in out['stats']['codes'] if c['service'] == service}


class AwsFaults(WorldTestCase):
        @classmethod
        def prepare(cls, w):
                cls.tmp = tempfile.mkdtemp(prefix='faults-', dir=w.dir)
                cls.proxy = {s: w.start_fault_proxy(s) for s in ('dynamodb', 's3', 'sqs', 'sns')}
                cls.big = os.urandom(1024) * 2048          # 2 MiB
                w.upload('faults/big.bin', cls.big, content_type='application/octet-stream')
                w.upload('faults/small.csv', b'a,b\n1,2\n')

        def setUp(self):
                for p in self.proxy.values():
                        p.clear()

        def call(self, *args, **kw):
                """awscall with every service behind its fault proxy."""
                eps = {s: p.url for s, p in self.proxy.items()}
                eps.update(kw.pop('endpoints', {}))
                return awscall(self.w, *args, **eps, **kw)

        def items_file(self, n, tag=None):
                tag = tag or uuid.uuid4().hex[:8]
                items = [json.dumps({'student_id': {'S': f'F{tag}{i:02d}'}, 'course': {'S': 'c'}})
                         for i in range(n)]
                path = os.path.join(self.tmp, tag)
                with open(path, 'w') as f:
                        f.write('\n'.join(items) + '\n')
                return path, [f'F{tag}{i:02d}' for i in range(n)]

        def stored_ids(self, ids):
                got = {r['student_id'] for r in self.w.scan_table()}
                return [i for i in ids if i in got]

        # --- throttling and server errors ---------------------------------------------
        def test_dynamodb_throttled_then_success(self):
                self.proxy['dynamodb'].add('status', {'target': BATCH}, preset='dynamodb-throughput', times=2)
                path, ids = self.items_file(25)
                out = self.call('ddb-batch-write', self.w.table, path)
                self.assertEqual(out['result'], {'unprocessed': []})
                self.assertEqual(requests(out, 'dynamodb'), 3)
                self.assertEqual(retries(out, 'dynamodb'), 2)
                self.assertEqual(out['stats']['dynamodb']['throttled'], 2)
                self.assertEqual(codes(out, 'dynamodb'), {'ProvisionedThroughputExceededException': 2})
                self.assertEqual(self.stored_ids(ids), ids)

        def test_batch_gets_more_attempts_than_other_calls(self):
                self.proxy['dynamodb'].add('status', {}, preset='dynamodb-throttling', times=-1)
                path, ids = self.items_file(2)
                out = self.call('ddb-batch-write', self.w.table, path, expect_ok=False,
                                opts=['--max-attempts-batch', '5'])
                self.assertEqual((out['error']['errno'], out['error']['aws_code']), ('EAGAIN', 'ThrottlingException'))
                self.assertEqual(requests(out, 'dynamodb'), 5)
                self.assertEqual(out['stats']['dynamodb']['errors'], 1)
                self.assertTrue(out['error']['request_id'])
                out = self.call('ddb-describe', self.w.table, expect_ok=False)
                self.assertEqual(requests(out, 'dynamodb'), 3)          # the default for the rest
                self.assertEqual(self.stored_ids(ids), [])

        def test_server_errors_then_success_every_service(self):
                self.proxy['s3'].add('status', {'method': 'GET'}, preset='s3-internal')
                self.proxy['sqs'].add('status', {}, preset='sqs-throttling')
                self.proxy['sns'].add('status', {}, preset='sns-throttling')
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, preset='dynamodb-internal')
                out = self.call('s3-get', self.w.inbound, 'faults/small.csv')
                self.assertEqual(out['result']['sha256'], hashlib.sha256(b'a,b\n1,2\n').hexdigest())
                self.assertEqual(codes(out, 's3'), {'InternalError': 1})
                self.assertEqual(requests(out, 's3'), 2)
                out = self.call('sqs-attributes', self.w.queue_url, 'QueueArn')
                self.assertEqual(codes(out, 'sqs'), {'RequestThrottled': 1})
                self.assertEqual(out['stats']['sqs']['throttled'], 1)
                self.assertEqual(requests(out, 'sqs'), 2)
                self.proxy['sns'].add('status', {}, preset='sns-throttled')     # then 429 Throttled
                out = self.call('sns-publish', self.w.topic_arn, 's', 'm')
                sns_codes = codes(out, 'sns')
                self.assertEqual(sum(sns_codes.values()), 2, sns_codes)
                self.assertIn('Throttled', sns_codes)                  # the 429 one
                self.assertEqual(out['stats']['sns']['throttled'], 2)
                self.assertEqual(requests(out, 'sns'), 3)
                out = self.call('sns-publish', self.w.topic_arn, 's', 'm')     # faults used up
                self.assertEqual(codes(out, 'sns'), {})
                self.assertEqual(requests(out, 'sns'), 1)
                out = self.call('ddb-describe', self.w.table)
                self.assertEqual(codes(out, 'dynamodb'), {'InternalServerError': 1})
                self.assertEqual(requests(out, 'dynamodb'), 2)

        def test_slowdown_and_html_gateway_errors(self):
                self.proxy['s3'].add('status', {'method': 'GET'}, preset='s3-slowdown')
                out = self.call('s3-get', self.w.inbound, 'faults/small.csv')
                self.assertEqual(out['stats']['s3']['throttled'], 1)
                self.assertEqual(requests(out, 's3'), 2)
                self.proxy['s3'].add('status', {'method': 'GET'}, status=502, times=-1,
                                     headers={'Content-Type': 'text/html'},
                                     body='<html><body><h1>502 Bad Gateway</h1></body></html>')
                out = self.call('s3-get', self.w.inbound, 'faults/small.csv', expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['http_status'], out['error']['aws_code']),
                                 ('EIO', 502, ''))
                self.assertEqual(requests(out, 's3'), 3)

        def test_expired_token_refreshes_and_retries_once(self):
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=400, times=-1,
                                           headers={'Content-Type': 'application/x-amz-json-1.0'},
                                           body={'__type': 'com.amazon.coral.service#ExpiredTokenException',
                                                 'message': 'The security token included in the request is expired'})
                out = self.call('ddb-describe', self.w.table, expect_ok=False)
                self.assertEqual(out['error']['aws_code'], 'ExpiredTokenException')
                self.assertEqual(requests(out, 'dynamodb'), 2)          # one refresh, not a loop
                self.proxy['dynamodb'].clear()
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=403,
                                           headers={'Content-Type': 'application/xml'},
                                           body='<Error><Code>ExpiredToken</Code><Message>expired</Message></Error>')
                out = self.call('ddb-describe', self.w.table)
                self.assertEqual(requests(out, 'dynamodb'), 2)

        def test_client_errors_are_not_retried(self):
                self.proxy['sqs'].add('status', {}, status=400, times=-1,
                                      headers={'Content-Type': 'application/x-amz-json-1.0'},
                                      body={'__type': 'com.amazonaws.sqs#InvalidParameterValue',
                                            'message': 'Value for parameter is invalid.'})
                out = self.call('sqs-delete', self.w.queue_url, 'handle', expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['aws_code']), ('EINVAL', 'InvalidParameterValue'))
                self.assertEqual(requests(out, 'sqs'), 1)

        # --- transport ----------------------------------------------------------------
        def test_connection_refused(self):
                s = socket.socket()
                s.bind(('127.0.0.1', 0))
                port = s.getsockname()[1]
                s.close()                                       # nobody listens there now
                out = self.call('ddb-describe', self.w.table, expect_ok=False,
                                endpoints={'dynamodb': f'http://127.0.0.1:{port}'})
                self.assertEqual((out['error']['errno'], out['error']['http_status']), ('ECONNREFUSED', 0))
                self.assertEqual(requests(out, 'dynamodb'), 3)
                self.assertEqual(codes(out, 'dynamodb'), {'ECONNREFUSED': 3})

        def test_reset_then_success(self):
                self.proxy['sqs'].add('reset', {'target': 'AmazonSQS.GetQueueAttributes'})
                out = self.call('sqs-attributes', self.w.queue_url, 'QueueArn')
                self.assertTrue(out['result']['QueueArn'].endswith(':inbound-file-events'))
                self.assertEqual(requests(out, 'sqs'), 2)

        def test_dropped_response_idempotent_retry(self):
                """The server acted but the answer was lost: the retry repeats an idempotent
                call (here a delete), which must then succeed."""
                q = self.w.sqs.create_queue(QueueName='drop-' + uuid.uuid4().hex[:8])['QueueUrl']
                self.w.sqs.send_message(QueueUrl=q, MessageBody='x')
                m = self.call('sqs-receive', q, '1', '5', '60')['result'][0]
                self.proxy['sqs'].add('drop-response', {'target': 'AmazonSQS.DeleteMessage'})
                out = self.call('sqs-delete', q, m['receipt_handle'])
                self.assertEqual(requests(out, 'sqs'), 2)
                self.assertEqual(self.w.queue_depth(q), (0, 0))

        def test_timeout_then_success_and_for_good(self):
                self.proxy['dynamodb'].add('delay', {'target': DESCRIBE}, delay_ms=3000)
                # the 3 s delay was cut at 0.7 s: a timeout, then the retry answered
                out = self.call('ddb-describe', self.w.table, opts=['--timeout-ms', '700'])
                self.assertEqual(requests(out, 'dynamodb'), 2)
                self.assertEqual(codes(out, 'dynamodb'), {'ETIMEDOUT': 1})
                self.proxy['dynamodb'].add('delay', {'target': DESCRIBE}, delay_ms=3000, times=-1)
                out = self.call('ddb-describe', self.w.table, expect_ok=False, opts=['--timeout-ms', '500'])
                self.assertEqual(out['error']['errno'], 'ETIMEDOUT')
                self.assertEqual(requests(out, 'dynamodb'), 3)

        def test_long_poll_is_not_cut_by_the_request_timeout(self):
                q = self.w.sqs.create_queue(QueueName='poll-' + uuid.uuid4().hex[:8])['QueueUrl']
                t0 = time.monotonic()
                out = self.call('sqs-receive', q, '1', '2', '30', opts=['--timeout-ms', '500'])
                self.assertEqual(out['result'], [])
                self.assertGreaterEqual(time.monotonic() - t0, 1.9)
                self.assertEqual(requests(out, 'sqs'), 1)

        def test_truncated_stream(self):
                # cut before any body byte: nothing reached the callback, a plain retry
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=0)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin')
                self.assertEqual(out['result']['sha256'], hashlib.sha256(self.big).hexdigest())
                self.assertEqual(requests(out, 's3'), 2)
                # cut twice mid-body: resumed from the next byte each time, every byte once
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024, times=2)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin')
                self.assertEqual(out['result']['bytes'], len(self.big))
                self.assertEqual(out['result']['sha256'], hashlib.sha256(self.big).hexdigest())
                self.assertEqual(out['result']['info']['size'], len(self.big))
                self.assertEqual(requests(out, 's3'), 3)
                self.assertEqual(codes(out, 's3'), {'ECONNRESET': 2})
                # a ranged read resumes inside its range
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin', 'bytes=500-300499')
                self.assertEqual(out['result']['sha256'], hashlib.sha256(self.big[500:300500]).hexdigest())
                self.assertEqual(requests(out, 's3'), 2)
                # the attempt limit still holds
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024, times=-1)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ECONNRESET')
                self.assertEqual(requests(out, 's3'), 3)

        def test_resume_refuses_what_is_not_the_asked_range(self):
                # (the proxy only reliably sends what it was told to when that is well over a
                # socket buffer, hence 100 KiB cuts)
                # the server answers the resume with the whole object (200): replaying from
                # byte 0 would corrupt the stream, so the call fails instead
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024)
                self.proxy['s3'].add('status', {'method': 'GET'}, status=200, body='a,b\n' * 2000)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EPROTO')
                self.assertEqual(requests(out, 's3'), 2)
                # the object changed between the cut and the resume: If-Match fails
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024)
                self.proxy['s3'].add('status', {'method': 'GET'}, status=412,
                                     headers={'Content-Type': 'application/xml'},
                                     body='<Error><Code>PreconditionFailed</Code><Message>At least one of the '
                                          'pre-conditions you specified did not hold</Message></Error>')
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin', expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['aws_code']), ('ESTALE', 'PreconditionFailed'))
                self.assertEqual(requests(out, 's3'), 2)
                # a suffix range is not resumed
                self.proxy['s3'].add('truncate', {'method': 'GET'}, bytes=100 * 1024)
                out = self.call('s3-get', self.w.inbound, 'faults/big.bin', 'bytes=-300000', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ECONNRESET')
                self.assertEqual(requests(out, 's3'), 1)

        def test_cancel_aborts_long_poll_and_backoff(self):
                q = self.w.sqs.create_queue(QueueName='cancel-' + uuid.uuid4().hex[:8])['QueueUrl']
                t0 = time.monotonic()
                out = self.call('sqs-receive', q, '1', '20', '30', expect_ok=False, opts=['--cancel-after-ms', '300'])
                self.assertEqual(out['error']['errno'], 'ECANCELED')
                self.assertLess(time.monotonic() - t0, 15)              # well before the 20 s wait
                self.assertEqual(requests(out, 'sqs'), 1)
                # throttled for good with long backoffs: cancel ends the sleep, no new attempt
                self.proxy['dynamodb'].add('status', {}, preset='dynamodb-throttling', times=-1)
                t0 = time.monotonic()
                out = self.call('ddb-describe', self.w.table, expect_ok=False,
                                opts=['--retry-base-ms', '20000', '--retry-cap-ms', '20000',
                                      '--max-attempts', '10', '--cancel-after-ms', '300'])
                self.assertEqual(out['error']['errno'], 'ECANCELED')
                self.assertLess(time.monotonic() - t0, 15)              # not 9 backoffs of 20 s
                self.assertLessEqual(requests(out, 'dynamodb'), 2)

        # --- bodies -------------------------------------------------------------------
        def test_copy_200_with_error(self):
                self.proxy['s3'].add('copy-200-error', {})
                key = 'faults/copied-' + uuid.uuid4().hex[:6]
                out = self.call('s3-copy', self.w.inbound, 'faults/small.csv', self.w.archive, key)
                self.assertEqual(requests(out, 's3'), 3)                # head, copy (200+Error), copy
                self.assertEqual(codes(out, 's3'), {'InternalError': 1})
                self.assertEqual(self.w.read_object(self.w.archive, key), b'a,b\n1,2\n')
                self.proxy['s3'].add('copy-200-error', {}, times=-1)
                out = self.call('s3-copy', self.w.inbound, 'faults/small.csv', self.w.archive, key + 'x',
                                expect_ok=False)
                self.assertEqual((out['error']['errno'], out['error']['http_status'], out['error']['aws_code']),
                                 ('EIO', 200, 'InternalError'))
                self.assertTrue(out['error']['request_id'])
                self.assertNotIn(key + 'x', self.w.list_keys(self.w.archive))

        def test_malformed_bodies(self):
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=200, body='{"Table": [1,')
                out = self.call('ddb-describe', self.w.table, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=200,
                                           body={'Table': {'KeySchema': [{'AttributeName': 'x', 'KeyType': 'HASH'}]}})
                out = self.call('ddb-describe', self.w.table, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')      # no type for the key
                self.proxy['s3'].add('status', {'method': 'GET'}, status=200, body='<ListBucketResult><Contents>')
                out = self.call('s3-list', self.w.inbound, '', '0', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')
                self.proxy['s3'].add('status', {'method': 'GET'}, status=200,
                                     body='<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>')
                out = self.call('s3-list', self.w.inbound, '', '0', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')      # truncated without a token
                self.proxy['sns'].add('status', {}, status=200, body='<PublishResponse/>')
                out = self.call('sns-publish', self.w.topic_arn, 's', 'm', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')
                # Not the shape of a ReceiveMessage answer: the call fails.
                for bad in ('{"Messages": [', [1], {'Messages': {'MessageId': 'x'}},
                            {'Messages': [{'ReceiptHandle': f'r{i}'} for i in range(11)]}):
                        self.proxy['sqs'].add('status', {}, status=200, body=bad if isinstance(bad, str) else json.dumps(bad))
                        out = self.call('sqs-receive', self.w.queue_url, '1', '0', '30', expect_ok=False)
                        self.assertEqual(out['error']['errno'], 'EBADMSG', bad)
                # One bad entry affects only itself: without a receipt handle it is skipped,
                # with one it comes back marked invalid, body withheld.
                self.proxy['sqs'].add('status', {}, status=200, body={'Messages': [{'MessageId': 'x'}]})
                out = self.call('sqs-receive', self.w.queue_url, '1', '0', '30')
                self.assertEqual((out['result'], out['skipped']), ([], 1))
                msg = {'MessageId': 'm', 'ReceiptHandle': 'r', 'Body': 'corrupted',
                       'MD5OfBody': hashlib.md5(b'original').hexdigest()}
                self.proxy['sqs'].add('status', {}, status=200, body={'Messages': [msg]})
                out = self.call('sqs-receive', self.w.queue_url, '1', '0', '30')
                self.assertEqual(len(out['result']), 1)
                self.assertIsNone(out['result'][0]['body'])
                self.assertEqual(out['result'][0]['receipt_handle'], 'r')
                self.assertIn('MD5OfBody', out['result'][0]['invalid'])
                msg['MD5OfBody'] = hashlib.md5(b'corrupted').hexdigest().upper()
                self.proxy['sqs'].add('status', {}, status=200, body={'Messages': [msg]})
                out = self.call('sqs-receive', self.w.queue_url, '1', '0', '30')
                self.assertEqual([m['body'] for m in out['result']], ['corrupted'])
                self.proxy['s3'].add('status', {'method': 'PUT'}, status=200, body='<?xml version="1.0"?><!DOCTYPE x ['
                                     '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><CopyObjectResult>&b;'
                                     '</CopyObjectResult>')
                out = self.call('s3-copy', self.w.inbound, 'faults/small.csv', self.w.archive, 'dtd', expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')

        def test_sqs_one_bad_message_affects_only_itself(self):
                """A receive holding good messages and one damaged entry (fault proxy
                receive-corrupt, one kind per round) returns every good message whole and the
                bad one marked invalid with its receipt handle and a reason; an entry without a
                receipt handle is skipped and counted. Nothing is deleted or made visible."""
                cases = [('md5', 'MD5OfBody'), ('no-body', 'no Body'), ('no-message-id', 'no MessageId'),
                         ('count', 'ApproximateReceiveCount'), ('attributes', 'Attributes'),
                         ('huge', 'over the cap'), ('no-receipt-handle', None)]
                for corrupt, reason in cases:
                        with self.subTest(corrupt=corrupt):
                                q = self.w.sqs.create_queue(QueueName='bad-' + uuid.uuid4().hex[:8])['QueueUrl']
                                bodies = {f'{corrupt} good {i} "\\ é' for i in range(4)}
                                for b in bodies:
                                        self.w.sqs.send_message(QueueUrl=q, MessageBody=b)
                                fid = self.proxy['sqs'].add('receive-corrupt', index=2, corrupt=corrupt)
                                got, skipped, deadline = [], 0, time.monotonic() + 10
                                while len(got) + skipped < 4 and time.monotonic() < deadline:
                                        out = self.call('sqs-receive', q, '10', '1', '30')
                                        got += out['result']
                                        skipped += out.get('skipped', 0)
                                fired = [f for f in self.proxy['sqs'].stats()['faults'] if f['id'] == fid]
                                self.assertEqual(fired[0]['fired'], 1)
                                good = [m for m in got if 'invalid' not in m]
                                bad = [m for m in got if 'invalid' in m]
                                if reason is None:
                                        self.assertEqual((len(good), bad, skipped), (3, [], 1))
                                else:
                                        self.assertEqual((len(good), len(bad), skipped), (3, 1, 0))
                                        self.assertIn(reason, bad[0]['invalid'])
                                        self.assertIsNone(bad[0]['body'])
                                        self.assertTrue(bad[0]['receipt_handle'])
                                self.assertTrue({m['body'] for m in good} < bodies)
                                self.assertTrue(all(m['receive_count'] == 1 for m in good))
                                for m in got:
                                        self.w.sqs.delete_message(QueueUrl=q, ReceiptHandle=m['receipt_handle'])
                                # the skipped one stays in flight: it comes back after its
                                # visibility timeout
                                self.assertEqual(self.w.queue_depth(q), (0, 1 if reason is None else 0))

        def test_dynamodb_crc32_checked(self):
                """dynalite sends x-amz-crc32 like DynamoDB (so every call above was checked); a
                body that does not match it is retried, not believed."""
                body = json.dumps({'Table': {'TableStatus': 'ACTIVE',
                                             'KeySchema': [{'AttributeName': 'x', 'KeyType': 'HASH'}],
                                             'AttributeDefinitions': [{'AttributeName': 'x', 'AttributeType': 'B'}]}})
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=200, body=body,
                                           headers={'Content-Type': 'application/x-amz-json-1.0',
                                                    'x-amz-crc32': '12345'})
                out = self.call('ddb-describe', self.w.table)
                self.assertEqual(out['result']['partition_key'], 'student_id')    # the real table's
                self.assertEqual(codes(out, 'dynamodb'), {'Crc32Mismatch': 1})
                self.assertEqual(requests(out, 'dynamodb'), 2)
                crc = str(zlib.crc32(body.encode()))
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=200, body=body,
                                           headers={'Content-Type': 'application/x-amz-json-1.0', 'x-amz-crc32': crc})
                out = self.call('ddb-describe', self.w.table)
                self.assertEqual(out['result']['partition_key'], 'x')             # a matching one is taken
                self.assertEqual(requests(out, 'dynamodb'), 1)

        def test_oversized_bodies(self):
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=200,
                                           body='{"Table":{"x":"' + 'a' * (2 * MiB) + '"}}')
                out = self.call('ddb-describe', self.w.table, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'ENOBUFS')
                self.assertEqual(requests(out, 'dynamodb'), 1)
                # an error document over the cap still gives a clean error
                self.proxy['s3'].add('status', {'method': 'HEAD'}, status=500, body='x' * (2 * MiB), times=-1)
                out = self.call('s3-head', self.w.inbound, 'faults/small.csv', expect_ok=False)
                self.assertIn(out['error']['errno'], ('EIO', 'ENOBUFS'))

        def test_unprocessed_items_reported_by_index(self):
                self.proxy['dynamodb'].add('unprocessed', {}, keep=20)
                path, ids = self.items_file(25)
                out = self.call('ddb-batch-write', self.w.table, path)
                self.assertEqual(out['result'], {'unprocessed': [20, 21, 22, 23, 24]})
                self.assertEqual(self.stored_ids(ids), ids[:20])
                # the writer retries just those; with no fault they land
                retry = os.path.join(self.tmp, 'retry-' + uuid.uuid4().hex[:6])
                with open(path) as f, open(retry, 'w') as g:
                        g.writelines(f.readlines()[20:])
                out = self.call('ddb-batch-write', self.w.table, retry)
                self.assertEqual(out['result'], {'unprocessed': []})
                self.assertEqual(self.stored_ids(ids), ids)

        def test_unprocessed_item_that_was_not_sent(self):
                body = {'UnprocessedItems': {self.w.table: [{'PutRequest': {'Item': {'student_id': {'S': 'other'}}}}]}}
                self.proxy['dynamodb'].add('status', {'target': BATCH}, status=200, body=body)
                path, _ = self.items_file(3)
                out = self.call('ddb-batch-write', self.w.table, path, expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EBADMSG')

        # --- clock skew ---------------------------------------------------------------
        def test_request_time_too_skewed(self):
                ahead = time.time() + 7200
                self.proxy['s3'].add('status', {'method': 'GET'}, status=403,
                                     headers={'Date': http_date(ahead), 'Content-Type': 'application/xml'},
                                     body='<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between '
                                          'the request time and the current time is too large.</Message></Error>')
                out = self.call('s3-get', self.w.inbound, 'faults/small.csv')
                self.assertTrue(out['ok'])
                self.assertAlmostEqual(out['clock_offset'], 7200, delta=5)
                self.assertEqual(out['stats']['clock_skew_corrections'], 1)
                self.assertEqual(requests(out, 's3'), 2)

        def test_skew_on_head_without_body(self):
                """S3 answers HEAD errors without a body: a 403 whose Date is far from our
                clock is taken as skew (as the AWS SDKs do), a 403 with a close Date is not."""
                self.proxy['s3'].add('status', {'method': 'HEAD'}, status=403,
                                     headers={'Date': http_date(time.time() - 1800)})
                out = self.call('s3-head', self.w.inbound, 'faults/small.csv')
                self.assertAlmostEqual(out['clock_offset'], -1800, delta=5)
                self.assertEqual(requests(out, 's3'), 2)
                self.proxy['s3'].add('status', {'method': 'HEAD'}, status=403,
                                     headers={'Date': http_date(time.time())})
                out = self.call('s3-head', self.w.inbound, 'faults/small.csv', expect_ok=False)
                self.assertEqual((out['error']['errno'], out['clock_offset']), ('EACCES', 0))
                self.assertEqual(requests(out, 's3'), 1)

        def test_dynamodb_signature_expired(self):
                behind = time.time() - 3600
                self.proxy['dynamodb'].add('status', {'target': DESCRIBE}, status=400,
                                           headers={'Date': http_date(behind),
                                                    'Content-Type': 'application/x-amz-json-1.0'},
                                           body={'__type': 'com.amazon.coral.service#InvalidSignatureException',
                                                 'message': 'Signature expired: 20261129T100000Z is now earlier than '
                                                            '20261129T090000Z (20261129T091500Z - 15 min.)'})
                out = self.call('ddb-describe', self.w.table)
                self.assertAlmostEqual(out['clock_offset'], -3600, delta=5)
                self.assertEqual(requests(out, 'dynamodb'), 2)

        def test_skew_is_corrected_once_only(self):
                self.proxy['sns'].add('status', {}, status=403, times=-1,
                                      headers={'Date': http_date(time.time() + 900), 'Content-Type': 'text/xml'},
                                      body='<ErrorResponse><Error><Type>Sender</Type><Code>RequestExpired</Code>'
                                           '<Message>Request has expired.</Message></Error><RequestId>r1</RequestId>'
                                           '</ErrorResponse>')
                out = self.call('sns-publish', self.w.topic_arn, 's', 'm', expect_ok=False)
                self.assertEqual((out['error']['aws_code'], out['error']['request_id']), ('RequestExpired', 'r1'))
                self.assertEqual(requests(out, 'sns'), 2)


class SkewOnTheWire(unittest.TestCase):
        """A server of our own: rejects the first request as skewed with a Date two hours
        ahead, then records the X-Amz-Date of the retry, which must carry the corrected time."""

        def test_retry_is_signed_with_server_time(self):
                seen = []
                ahead = time.time() + 7200

                class H(http.server.BaseHTTPRequestHandler):
                        def log_message(self, *a):
                                pass

                        def do_POST(self):
                                self.rfile.read(int(self.headers.get('Content-Length', 0)))
                                seen.append(self.headers['X-Amz-Date'])
                                if len(seen) == 1:
                                        body = json.dumps({'__type': 'com.amazon.coral.service#InvalidSignatureException',
                                                           'message': 'Signature expired: stale'}).encode()
                                        # send_response() would add a Date of its own first
                                        self.send_response_only(400)
                                        self.send_header('Date', http_date(ahead))
                                else:
                                        body = json.dumps({'Table': {
                                                'TableStatus': 'ACTIVE',
                                                'KeySchema': [{'AttributeName': 'k', 'KeyType': 'HASH'}],
                                                'AttributeDefinitions': [{'AttributeName': 'k', 'AttributeType': 'N'}]}}).encode()
                                        self.send_response(200)
                                self.send_header('Content-Type', 'application/x-amz-json-1.0')
                                self.send_header('Content-Length', str(len(body)))
                                self.end_headers()
                                self.wfile.write(body)

                srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
                threading.Thread(target=srv.serve_forever, daemon=True).start()
                w = _FakeWorld(f'http://127.0.0.1:{srv.server_address[1]}')
                out = awscall(w, 'ddb-describe', 'tbl')
                srv.shutdown()
                srv.server_close()
                self.assertEqual(out['result']['partition_type'], 'N')
                self.assertEqual(len(seen), 2, seen)
                first, second = (time.mktime(time.strptime(s, '%Y%m%dT%H%M%SZ')) for s in seen)
                self.assertAlmostEqual(second - first, 7200, delta=10)


class _FakeWorld:
        """Just enough of World for awscall(): endpoints and an environment with credentials."""

        def __init__(self, url):
                self.info = {'endpoints': {'sqs': url, 's3': url, 'dynamodb': url, 'sns': url}}

        def daemon_env(self):
                env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
                env.update({'AWS_ACCESS_KEY_ID': 'AKIDEXAMPLE', 'AWS_SECRET_ACCESS_KEY': 'secret',
                            'AWS_REGION': 'us-east-1', 'AWS_EC2_METADATA_DISABLED': 'true',
                            'AWS_CONFIG_FILE': '/nonexistent', 'AWS_SHARED_CREDENTIALS_FILE': '/nonexistent'})
                return env


if __name__ == '__main__':
        unittest.main(verbosity=2)
