#!/usr/bin/python3
"""The local AWS world works end to end with real clients: S3 events as real S3 sends them,
the seeded queue/table/topic, several worlds at once, nothing left running, and the fault
proxy answering like AWS."""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_DIR = os.path.join(os.path.dirname(HERE), 'world')
sys.path.insert(0, WORLD_DIR)
import worldctl  # noqa: E402
from worldlib import World, WorldTestCase  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError  # noqa: E402


def alive(proc):
        return worldctl._alive(proc)


def only_record(msgs):
        assert len(msgs) == 1, msgs
        body = json.loads(msgs[0]['Body'])
        assert len(body['Records']) == 1, body
        return body['Records'][0]


# The bridge queues an event before it answers the request that caused it, so "no event"
# is checked with an immediate receive (wait=0).
class S3Events(WorldTestCase):
        def setUp(self):
                self.assertEqual(self.w.queue_depth(), (0, 0), 'queue must start empty')

        def test_put_event_fields_and_key_encoding(self):
                key = 'grades/2024 spring/class A+B é=1.csv'
                body = b'student_id,first_name,last_name,course\nA00001,Ada,Lovelace,CS101\n'
                self.w.upload(key, body)
                rec = only_record(self.w.receive())
                self.assertEqual(rec['eventVersion'], '2.1')
                self.assertEqual(rec['eventSource'], 'aws:s3')
                self.assertEqual(rec['awsRegion'], 'us-east-1')
                self.assertEqual(rec['eventName'], 'ObjectCreated:Put')
                datetime.strptime(rec['eventTime'], '%Y-%m-%dT%H:%M:%S.%fZ')
                self.assertEqual(rec['userIdentity'], {'principalId': 'AWS:000000000000'})
                self.assertEqual(rec['requestParameters'], {'sourceIPAddress': '127.0.0.1'})
                self.assertRegex(rec['responseElements']['x-amz-request-id'], r'^[0-9A-F]{16}$')
                self.assertRegex(rec['responseElements']['x-amz-id-2'], r'^[A-Za-z0-9+/=]{40,}$')
                s3 = rec['s3']
                self.assertEqual(s3['s3SchemaVersion'], '1.0')
                self.assertEqual(s3['configurationId'], 'csv-to-sqs')
                self.assertEqual(s3['bucket'], {'name': 'inbound-file-drop',
                                                'ownerIdentity': {'principalId': '000000000000'},
                                                'arn': 'arn:aws:s3:::inbound-file-drop'})
                obj = s3['object']
                self.assertEqual(obj['key'], 'grades/2024+spring/class+A%2BB+%C3%A9%3D1.csv')
                self.assertEqual(urllib.parse.unquote_plus(obj['key']), key)
                self.assertEqual(obj['size'], len(body))
                self.assertEqual(obj['eTag'], hashlib.md5(body).hexdigest())
                self.assertRegex(obj['sequencer'], r'^[0-9A-F]{16,}$')
                self.assertNotIn('versionId', obj)
                # The key in the event opens the object.
                got = self.w.read_object(self.w.inbound, urllib.parse.unquote_plus(obj['key']))
                self.assertEqual(got, body)

        def test_virtual_host_style(self):
                # bucket.host:port addressing; sent to 127.0.0.1 with that Host header, since
                # *.localhost need not resolve here.
                import http.client
                port = self.w.info['ports']['s3_bridge']
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
                conn.request('PUT', '/vhost%20dir/a%2Bb.csv', body=b'x,y\n', headers={
                        'Host': f'{self.w.inbound}.localhost:{port}', 'Content-Type': 'text/csv',
                        'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/'
                                         'aws4_request, SignedHeaders=host, Signature=' + '0' * 64})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                self.assertEqual(resp.status, 200)
                rec = only_record(self.w.receive())
                self.assertEqual(rec['s3']['bucket']['name'], self.w.inbound)
                self.assertEqual(rec['s3']['object']['key'], 'vhost+dir/a%2Bb.csv')
                self.assertEqual(rec['s3']['object']['size'], 4)
                self.assertEqual(self.w.read_object(self.w.inbound, 'vhost dir/a+b.csv'), b'x,y\n')

        def test_suffix_filters_are_case_sensitive(self):
                self.w.upload('notes.txt', b'x')
                self.w.upload('UPPER.CSV', b'x')
                self.w.upload('data.csv.bak', b'x')
                self.w.upload('data.csv.gz', b'\x1f\x8b\x08\x00', content_type='application/gzip')
                rec = only_record(self.w.receive(wait=2))
                self.assertEqual(rec['s3']['object']['key'], 'data.csv.gz')
                self.assertEqual(rec['s3']['configurationId'], 'csv-gz-to-sqs')
                self.assertEqual(self.w.receive(wait=0), [])

        def test_other_buckets_send_nothing(self):
                self.w.upload('x.csv', b'a', bucket=self.w.archive)
                self.assertEqual(self.w.receive(wait=0), [])

        def test_copy_event(self):
                self.w.upload('src.txt', b'one,two\n')
                self.w.s3.copy_object(Bucket=self.w.inbound, Key='dst dir/copied.csv',
                                      CopySource={'Bucket': self.w.inbound, 'Key': 'src.txt'})
                rec = only_record(self.w.receive())
                self.assertEqual(rec['eventName'], 'ObjectCreated:Copy')
                self.assertEqual(rec['s3']['object']['key'], 'dst+dir/copied.csv')
                self.assertEqual(rec['s3']['object']['size'], 8)
                self.assertEqual(rec['s3']['object']['eTag'], hashlib.md5(b'one,two\n').hexdigest())

        def test_multipart_event(self):
                s3, b = self.w.s3, self.w.inbound
                up = s3.create_multipart_upload(Bucket=b, Key='big.csv', ContentType='text/csv')
                part = s3.upload_part(Bucket=b, Key='big.csv', UploadId=up['UploadId'], PartNumber=1,
                                      Body=b'a,b\n' * 100)
                self.assertEqual(self.w.receive(wait=0), [], 'no event before completion')
                done = s3.complete_multipart_upload(
                        Bucket=b, Key='big.csv', UploadId=up['UploadId'],
                        MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
                rec = only_record(self.w.receive())
                self.assertEqual(rec['eventName'], 'ObjectCreated:CompleteMultipartUpload')
                self.assertEqual(rec['s3']['object']['size'], 400)
                self.assertEqual(rec['s3']['object']['eTag'], done['ETag'].strip('"'))
                self.assertTrue(rec['s3']['object']['eTag'].endswith('-1'))

        def test_sequencer_grows_for_one_key(self):
                seqs = []
                for i in range(3):
                        self.w.upload('again.csv', f'{i}'.encode())
                        seqs.append(only_record(self.w.receive())['s3']['object']['sequencer'])
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), 3)

        def test_subresource_put_sends_nothing(self):
                self.w.upload('tagged.csv', b'x')
                self.assertEqual(len(self.w.receive()), 1)
                self.w.s3.put_object_tagging(Bucket=self.w.inbound, Key='tagged.csv',
                                             Tagging={'TagSet': [{'Key': 'k', 'Value': 'v'}]})
                self.assertEqual(self.w.receive(wait=0), [])

        def test_failed_put_sends_nothing(self):
                with self.assertRaises(ClientError):
                        self.w.s3.put_object(Bucket='no-such-bucket', Key='a.csv', Body=b'x')
                self.assertEqual(self.w.receive(wait=0), [])

        def test_notification_configuration(self):
                s3, sqs = self.w.s3, self.w.sqs
                s3.create_bucket(Bucket='notify-test')
                url = sqs.create_queue(QueueName='notify-test-q')['QueueUrl']
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
                rule = {'Id': 'only-in', 'QueueArn': arn, 'Events': ['s3:ObjectCreated:Put'],
                        'Filter': {'Key': {'FilterRules': [{'Name': 'prefix', 'Value': 'in/'}]}}}
                s3.put_bucket_notification_configuration(
                        Bucket='notify-test', NotificationConfiguration={'QueueConfigurations': [rule]})
                test_event = json.loads(self.w.receive(url)[0]['Body'])
                self.assertEqual(test_event['Service'], 'Amazon S3')
                self.assertEqual(test_event['Event'], 's3:TestEvent')
                self.assertEqual(test_event['Bucket'], 'notify-test')
                self.assertIn('RequestId', test_event)
                self.assertIn('HostId', test_event)
                got = s3.get_bucket_notification_configuration(Bucket='notify-test')['QueueConfigurations']
                self.assertEqual(got[0]['Id'], 'only-in')
                self.assertEqual(got[0]['QueueArn'], arn)
                self.assertEqual(got[0]['Events'], ['s3:ObjectCreated:Put'])
                self.assertEqual(got[0]['Filter']['Key']['FilterRules'], [{'Name': 'Prefix', 'Value': 'in/'}])

                # Prefix filter and event type: only a Put under in/ is sent.
                s3.put_object(Bucket='notify-test', Key='out/a.csv', Body=b'1')
                s3.put_object(Bucket='notify-test', Key='in/a.csv', Body=b'1')
                s3.copy_object(Bucket='notify-test', Key='in/b.csv',
                               CopySource={'Bucket': 'notify-test', 'Key': 'in/a.csv'})
                rec = only_record(self.w.receive(url, wait=2))
                self.assertEqual((rec['eventName'], rec['s3']['object']['key']), ('ObjectCreated:Put', 'in/a.csv'))

                with self.assertRaises(ClientError) as cm:
                        s3.put_bucket_notification_configuration(
                                Bucket='notify-test', NotificationConfiguration={'QueueConfigurations': [
                                        dict(rule, QueueArn='arn:aws:sqs:us-east-1:000000000000:missing')]})
                self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgument')
                overlapping = [dict(rule, Id='a', Filter={'Key': {'FilterRules': [{'Name': 'suffix', 'Value': '.csv'}]}}),
                               dict(rule, Id='b', Filter={'Key': {'FilterRules': [{'Name': 'suffix', 'Value': 'a.csv'}]}})]
                with self.assertRaises(ClientError) as cm:
                        s3.put_bucket_notification_configuration(
                                Bucket='notify-test', NotificationConfiguration={'QueueConfigurations': overlapping})
                self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgument')
                with self.assertRaises(ClientError) as cm:
                        s3.get_bucket_notification_configuration(Bucket='no-such-bucket')
                self.assertEqual(cm.exception.response['Error']['Code'], 'NoSuchBucket')
                # Clearing the configuration stops the events and sends no TestEvent.
                s3.put_bucket_notification_configuration(Bucket='notify-test', NotificationConfiguration={})
                self.assertEqual(s3.get_bucket_notification_configuration(Bucket='notify-test').get('QueueConfigurations'), None)
                s3.put_object(Bucket='notify-test', Key='in/c.csv', Body=b'1')
                self.assertEqual(self.w.receive(url, wait=0), [])

        def test_seeded_world(self):
                w = self.w
                self.assertEqual(sorted(b['Name'] for b in w.s3.list_buckets()['Buckets']
                                        if b['Name'] != 'notify-test'),
                                 ['archival-bucket', 'error-bucket', 'inbound-file-drop'])
                attrs = w.sqs.get_queue_attributes(QueueUrl=w.queue_url, AttributeNames=['All'])['Attributes']
                redrive = json.loads(attrs['RedrivePolicy'])
                self.assertEqual(redrive['deadLetterTargetArn'], w.info['queues']['dlq']['arn'])
                self.assertEqual(int(redrive['maxReceiveCount']), 5)
                table = w.dynamodb.describe_table(TableName=w.table)['Table']
                self.assertEqual(table['TableStatus'], 'ACTIVE')
                self.assertEqual({(k['AttributeName'], k['KeyType']) for k in table['KeySchema']},
                                 {('student_id', 'HASH'), ('course', 'RANGE')})
                self.assertEqual(table['BillingModeSummary']['BillingMode'], 'PAY_PER_REQUEST')
                w.dynamodb.put_item(TableName=w.table, Item={'student_id': {'S': 'A99999'},
                                                             'course': {'S': 'X1'}, 'n': {'N': '3'}})
                self.assertIn({'student_id': 'A99999', 'course': 'X1', 'n': 3}, w.scan_table())
                w.dynamodb.delete_item(TableName=w.table, Key={'student_id': {'S': 'A99999'},
                                                               'course': {'S': 'X1'}})

        def test_sns_publish_reaches_capture_queue(self):
                w = self.w
                w.sns.publish(TopicArn=w.topic_arn, Subject='s3batchd SUCCESS',
                              Message=json.dumps({'status': 'SUCCESS', 'rows': 4}),
                              MessageAttributes={'status': {'DataType': 'String', 'StringValue': 'SUCCESS'}})
                msgs = w.read_sns_messages(expect=1)
                self.assertEqual(len(msgs), 1)
                env = msgs[0]
                self.assertEqual(env['Type'], 'Notification')
                self.assertEqual(env['TopicArn'], w.topic_arn)
                self.assertEqual(env['Subject'], 's3batchd SUCCESS')
                self.assertEqual(env['Message'], {'status': 'SUCCESS', 'rows': 4})
                self.assertEqual(env['MessageAttributes']['status'], {'Type': 'String', 'Value': 'SUCCESS'})

        def test_world_files(self):
                w = self.w
                with open(os.path.join(w.dir, 'world.env')) as f:
                        env = dict(line.rstrip('\n').split('=', 1) for line in f)
                self.assertEqual(env['WORLD_S3_ENDPOINT'], w.info['endpoints']['s3'])
                self.assertEqual(env['WORLD_INBOUND_QUEUE_URL'], w.queue_url)
                self.assertEqual(env['WORLD_TOPIC_ARN'], w.topic_arn)
                for p in w.processes():
                        self.assertTrue(alive(p), p)
                        self.assertEqual(env[f'WORLD_PID_{p["name"].upper().replace("-", "_")}'], str(p['pid']))
                # Loopback only.
                out = subprocess.run(['ss', '-Hltnp'], capture_output=True, text=True).stdout
                for p in w.processes():
                        for line in out.splitlines():
                                if f'pid={p["pid"]},' in line:
                                        self.assertIn('127.0.0.1:', line.split()[3])


class ConditionalRequests(WorldTestCase):
        """The bridge honours S3's conditional requests that fauxqs 1.9.2 ignores: copy-source
        conditions on CopyObject and UploadPartCopy, If-Match on DeleteObject, If-Match and
        If-None-Match: * on PutObject; a refused request changes nothing and sends no event."""

        def setUp(self):
                self.s3 = self.w.s3
                self.assertEqual(self.w.queue_depth(), (0, 0), 'queue must start empty')

        def headers_on(self, operation, headers):
                """HEADERS added to every OPERATION request until the test ends, before signing
                (Debian's botocore 1.29 has no IfMatch / IfNoneMatch parameters)."""
                def add(request, **_):
                        for k, v in headers.items():
                                request.headers[k] = v
                event = f'before-sign.s3.{operation}'
                self.s3.meta.events.register(event, add)
                self.addCleanup(self.s3.meta.events.unregister, event, add)

        def assert_precondition_failed(self, cm, condition):
                err = cm.exception.response
                self.assertEqual(err['ResponseMetadata']['HTTPStatusCode'], 412)
                self.assertEqual(err['Error']['Code'], 'PreconditionFailed')
                self.assertEqual(err['Error']['Message'],
                                 'At least one of the pre-conditions you specified did not hold')
                self.assertEqual(err['Error']['Condition'], condition)
                self.assertRegex(err['ResponseMetadata']['RequestId'], r'^[0-9A-F]{16}$')
                self.assertEqual(err['ResponseMetadata']['HTTPHeaders']['content-type'], 'application/xml')

        def put_source(self, key, body):
                return self.w.upload(key, body, bucket=self.w.archive)['ETag']

        def test_copy_source_if_match(self):
                key = 'cond dir/src+é.txt'
                etag = self.put_source(key, b'a,b\n1,2\n')
                src = {'Bucket': self.w.archive, 'Key': key}
                for wrong in ('"0123456789abcdef0123456789abcdef"', 'nope'):
                        with self.assertRaises(ClientError) as cm:
                                self.s3.copy_object(Bucket=self.w.inbound, Key='copied.csv', CopySource=src,
                                                    CopySourceIfMatch=wrong)
                        self.assert_precondition_failed(cm, 'x-amz-copy-source-If-Match')
                # A versioned source is checked the same way.
                with self.assertRaises(ClientError) as cm:
                        self.s3.copy_object(Bucket=self.w.inbound, Key='copied.csv',
                                            CopySource=dict(src, VersionId='3HL4kqtJlcpXroDTDmJ'),
                                            CopySourceIfMatch='"other"')
                self.assert_precondition_failed(cm, 'x-amz-copy-source-If-Match')
                self.assertNotIn('copied.csv', self.w.list_keys(self.w.inbound))
                self.assertEqual(self.w.receive(wait=0), [], 'a refused copy sends no event')
                # Quoted, bare, '*' and a list holding it all match.
                for good in (etag, etag.strip('"'), '*', f'"x", {etag}'):
                        self.s3.copy_object(Bucket=self.w.inbound, Key='copied.csv', CopySource=src,
                                            CopySourceIfMatch=good)
                        rec = only_record(self.w.receive())
                        self.assertEqual(rec['eventName'], 'ObjectCreated:Copy')
                self.assertEqual(self.w.read_object(self.w.inbound, 'copied.csv'), b'a,b\n1,2\n')
                # A missing source is the upstream's NoSuchKey, whatever the condition.
                with self.assertRaises(ClientError) as cm:
                        self.s3.copy_object(Bucket=self.w.archive, Key='x.txt', CopySourceIfMatch=etag,
                                            CopySource={'Bucket': self.w.archive, 'Key': 'gone.txt'})
                self.assertEqual(cm.exception.response['Error']['Code'], 'NoSuchKey')

        def test_copy_source_if_none_match_and_dates(self):
                etag = self.put_source('dated.txt', b'x')
                src = {'Bucket': self.w.archive, 'Key': 'dated.txt'}
                past = datetime(2001, 1, 1)
                future = datetime(2099, 1, 1)
                refused = [
                        ({'CopySourceIfNoneMatch': etag}, 'x-amz-copy-source-If-None-Match'),
                        ({'CopySourceIfNoneMatch': '*'}, 'x-amz-copy-source-If-None-Match'),
                        ({'CopySourceIfUnmodifiedSince': past}, 'x-amz-copy-source-If-Unmodified-Since'),
                        ({'CopySourceIfModifiedSince': future}, 'x-amz-copy-source-If-Modified-Since'),
                        # If-None-Match false decides even with If-Modified-Since true.
                        ({'CopySourceIfNoneMatch': etag, 'CopySourceIfModifiedSince': past},
                         'x-amz-copy-source-If-None-Match'),
                ]
                for params, condition in refused:
                        with self.subTest(params=params):
                                with self.assertRaises(ClientError) as cm:
                                        self.s3.copy_object(Bucket=self.w.archive, Key='dated-copy.txt',
                                                            CopySource=src, **params)
                                self.assert_precondition_failed(cm, condition)
                self.assertNotIn('dated-copy.txt', self.w.list_keys(self.w.archive))
                allowed = [{'CopySourceIfNoneMatch': '"other"'}, {'CopySourceIfModifiedSince': past},
                           {'CopySourceIfUnmodifiedSince': future},
                           # If-Match true decides even with If-Unmodified-Since false (S3 API
                           # Reference, CopyObject).
                           {'CopySourceIfMatch': etag, 'CopySourceIfUnmodifiedSince': past}]
                for params in allowed:
                        with self.subTest(params=params):
                                self.s3.delete_object(Bucket=self.w.archive, Key='dated-copy.txt')
                                self.s3.copy_object(Bucket=self.w.archive, Key='dated-copy.txt',
                                                    CopySource=src, **params)
                                self.assertEqual(self.w.read_object(self.w.archive, 'dated-copy.txt'), b'x')

        def test_upload_part_copy(self):
                body = bytes(range(256)) * 40
                etag = self.put_source('part src.bin', body)
                s3, b = self.s3, self.w.archive
                up = s3.create_multipart_upload(Bucket=b, Key='assembled.bin')['UploadId']
                src = {'Bucket': b, 'Key': 'part src.bin'}
                with self.assertRaises(ClientError) as cm:
                        s3.upload_part_copy(Bucket=b, Key='assembled.bin', UploadId=up, PartNumber=1,
                                            CopySource=src, CopySourceIfMatch='"stale"')
                self.assert_precondition_failed(cm, 'x-amz-copy-source-If-Match')
                with self.assertRaises(ClientError) as cm:
                        s3.upload_part_copy(Bucket=b, Key='assembled.bin', UploadId=up, PartNumber=1,
                                            CopySource=src, CopySourceIfNoneMatch=etag)
                self.assert_precondition_failed(cm, 'x-amz-copy-source-If-None-Match')
                part = s3.upload_part_copy(Bucket=b, Key='assembled.bin', UploadId=up, PartNumber=1,
                                           CopySource=src, CopySourceIfMatch=etag,
                                           CopySourceRange='bytes=100-1099')['CopyPartResult']
                self.assertEqual(part['ETag'].strip('"'), hashlib.md5(body[100:1100]).hexdigest())
                s3.complete_multipart_upload(Bucket=b, Key='assembled.bin', UploadId=up,
                                             MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
                self.assertEqual(self.w.read_object(b, 'assembled.bin'), body[100:1100])

        def test_conditional_delete(self):
                b = self.w.archive
                etag = self.put_source('del.txt', b'keep me')
                self.headers_on('DeleteObject', {'If-Match': '"0123456789abcdef0123456789abcdef"'})
                with self.assertRaises(ClientError) as cm:
                        self.s3.delete_object(Bucket=b, Key='del.txt')
                self.assert_precondition_failed(cm, 'If-Match')
                self.assertEqual(self.w.read_object(b, 'del.txt'), b'keep me')
                # A conditional delete of a key that is not there: 404 NoSuchKey, where an
                # unconditional one answers 204.
                self.headers_on('DeleteObject', {'If-Match': '*'})
                with self.assertRaises(ClientError) as cm:
                        self.s3.delete_object(Bucket=b, Key='never there.txt')
                self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], 404)
                self.assertEqual(cm.exception.response['Error']['Code'], 'NoSuchKey')
                self.assertEqual(cm.exception.response['Error']['Key'], 'never there.txt')
                self.headers_on('DeleteObject', {'If-Match': etag})
                out = self.s3.delete_object(Bucket=b, Key='del.txt')
                self.assertEqual(out['ResponseMetadata']['HTTPStatusCode'], 204)
                self.assertNotIn('del.txt', self.w.list_keys(b))

        def test_conditional_put(self):
                b = self.w.inbound
                self.w.upload('put.csv', b'a\n')
                only_record(self.w.receive())
                self.headers_on('PutObject', {'If-None-Match': '*'})
                with self.assertRaises(ClientError) as cm:
                        self.w.upload('put.csv', b'b\n')
                self.assert_precondition_failed(cm, 'If-None-Match')
                self.assertEqual(self.w.read_object(b, 'put.csv'), b'a\n')
                self.assertEqual(self.w.receive(wait=0), [], 'a refused put sends no event')
                self.w.upload('new.csv', b'n\n')
                self.assertEqual(only_record(self.w.receive())['s3']['object']['key'], 'new.csv')

        def test_conditional_overwrite(self):
                b = self.w.inbound
                first = self.w.upload('over.csv', b'1\n')['ETag']
                only_record(self.w.receive())
                self.headers_on('PutObject', {'If-Match': '"0123456789abcdef0123456789abcdef"'})
                with self.assertRaises(ClientError) as cm:
                        self.w.upload('over.csv', b'2\n')
                self.assert_precondition_failed(cm, 'If-Match')
                self.assertEqual(self.w.read_object(b, 'over.csv'), b'1\n')
                self.assertEqual(self.w.receive(wait=0), [])
                self.headers_on('PutObject', {'If-Match': first})
                with self.assertRaises(ClientError) as cm:
                        self.w.upload('not-yet.csv', b'x\n')
                self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], 404)
                self.assertEqual(cm.exception.response['Error']['Code'], 'NoSuchKey')
                self.assertNotIn('not-yet.csv', self.w.list_keys(b))
                self.w.upload('over.csv', b'2\n')
                self.assertEqual(self.w.read_object(b, 'over.csv'), b'2\n')
                self.assertEqual(only_record(self.w.receive())['s3']['object']['eTag'],
                                 hashlib.md5(b'2\n').hexdigest())


class Lifecycle(unittest.TestCase):
        def test_two_worlds_at_once_and_nothing_left(self):
                with World() as a, World() as b:
                        self.assertNotEqual(a.info['ports'], b.info['ports'])
                        a.upload('only-a.csv', b'x')
                        self.assertEqual(only_record(a.receive())['s3']['object']['key'], 'only-a.csv')
                        self.assertEqual(b.receive(wait=0), [])
                        procs = a.processes() + b.processes()
                        self.assertEqual(len(procs), 6)
                        self.assertTrue(all(alive(p) for p in procs))
                self.assertFalse([p for p in procs if alive(p)])
                self.assertFalse(os.path.exists(a.dir))

        def test_world_stops_on_failure(self):
                with self.assertRaises(ZeroDivisionError):
                        with World() as w:
                                procs = w.processes()
                                1 / 0
                self.assertFalse([p for p in procs if alive(p)])

        def test_cli_start_status_stop(self):
                cli = os.path.join(WORLD_DIR, 'world')
                with tempfile.TemporaryDirectory() as d:
                        t0 = time.monotonic()
                        subprocess.run([cli, 'start', d], check=True)
                        print(f'world start (CLI) took {time.monotonic() - t0:.2f} s', file=sys.stderr)
                        info = worldctl.load(d)
                        self.assertEqual(subprocess.run([cli, 'status', d], capture_output=True).returncode, 0)
                        self.assertEqual(subprocess.run([cli, 'start', d], capture_output=True).returncode, 1,
                                         'a second start in a running world must fail')
                        subprocess.run([cli, 'stop', d], check=True)
                        self.assertFalse([p for p in info['processes'] if alive(p)])
                        self.assertEqual(subprocess.run([cli, 'status', d], capture_output=True).returncode, 3)
                        subprocess.run([cli, 'stop', d], check=True)   # idempotent

        def test_servers_follow_their_owner(self):
                # A world whose owner died (a killed test run) ends by itself.
                with tempfile.TemporaryDirectory() as d:
                        owner = subprocess.Popen(['sleep', '30'])
                        subprocess.run([os.path.join(WORLD_DIR, 'world'), 'start', d, '--owner-pid',
                                        str(owner.pid)], check=True)
                        procs = worldctl.load(d)['processes']
                        self.assertTrue(all(alive(p) for p in procs))
                        owner.kill()
                        owner.wait()
                        deadline = time.monotonic() + 5
                        while any(alive(p) for p in procs) and time.monotonic() < deadline:
                                time.sleep(0.1)
                        self.assertFalse([p for p in procs if alive(p)])
                        worldctl.stop(d)


class FaultProxy(WorldTestCase):
        def client(self, service, url, **cfg):
                session = boto3.session.Session(aws_access_key_id=worldctl.ACCESS_KEY,
                                                aws_secret_access_key=worldctl.SECRET_KEY,
                                                region_name='us-east-1')
                config = Config(retries={'total_max_attempts': 1}, s3={'addressing_style': 'path'}, **cfg)
                client = session.client(service, endpoint_url=url, config=config)
                self.addCleanup(client.close)
                return client

        def test_throttle_n_times_then_pass_through(self):
                fp = self.w.start_fault_proxy('dynamodb')
                ddb = self.client('dynamodb', fp.url)
                fp.add('status', {'target': 'DynamoDB_20120810.DescribeTable'},
                       preset='dynamodb-throughput', times=2)
                for _ in range(2):
                        with self.assertRaises(ClientError) as cm:
                                ddb.describe_table(TableName=self.w.table)
                        err = cm.exception.response
                        self.assertEqual(err['Error']['Code'], 'ProvisionedThroughputExceededException')
                        self.assertEqual(err['ResponseMetadata']['HTTPStatusCode'], 400)
                self.assertEqual(ddb.describe_table(TableName=self.w.table)['Table']['TableName'],
                                 self.w.table)
                ddb.list_tables()   # another target is never matched
                stats = fp.stats()
                self.assertEqual(stats['by_target']['DynamoDB_20120810.DescribeTable'], 3)
                self.assertEqual(stats['by_target']['DynamoDB_20120810.ListTables'], 1)
                self.assertEqual(stats['faults'][0]['fired'], 2)
                self.assertEqual(stats['faults'][0]['remaining'], 0)
                self.assertEqual([r['fault'] for r in fp.requests()], [1, 1, None, None])

        def test_unprocessed_items(self):
                fp = self.w.start_fault_proxy('dynamodb')
                ddb = self.client('dynamodb', fp.url)
                fp.add('unprocessed', keep=1)
                puts = [{'PutRequest': {'Item': {'student_id': {'S': f'U0000{i}'}, 'course': {'S': 'C'}}}}
                        for i in range(4)]
                out = ddb.batch_write_item(RequestItems={self.w.table: puts})
                self.assertEqual(out['UnprocessedItems'], {self.w.table: puts[1:]})
                written = {i['student_id'] for i in self.w.scan_table() if i['course'] == 'C'}
                self.assertEqual(written, {'U00000'})
                # The client retries what came back; the fault fired once, so it all lands.
                out = ddb.batch_write_item(RequestItems=out['UnprocessedItems'])
                self.assertEqual(out['UnprocessedItems'], {})
                written = {i['student_id'] for i in self.w.scan_table() if i['course'] == 'C'}
                self.assertEqual(written, {f'U0000{i}' for i in range(4)})

        def test_s3_faults(self):
                w = self.w
                w.upload('f.txt', b'hello', bucket=w.archive)
                fp = w.start_fault_proxy('s3')
                s3 = self.client('s3', fp.url, read_timeout=1)
                fp.add('status', {'method': 'GET', 'path': '^/archival-bucket/f\\.txt'}, preset='s3-slowdown')
                with self.assertRaises(ClientError) as cm:
                        s3.get_object(Bucket=w.archive, Key='f.txt')
                self.assertEqual(cm.exception.response['Error']['Code'], 'SlowDown')
                self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], 503)
                self.assertEqual(s3.get_object(Bucket=w.archive, Key='f.txt')['Body'].read(), b'hello')

                # botocore recognises a CopyObject 200 with an <Error> body as a failure.
                fp.add('copy-200-error')
                with self.assertRaises(ClientError):
                        s3.copy_object(Bucket=w.archive, Key='g.txt', CopySource={'Bucket': w.archive, 'Key': 'f.txt'})
                fp.add('copy-200-error')
                req = urllib.request.Request(f'{fp.url}/{w.archive}/g.txt', method='PUT', data=b'',
                                             headers={'x-amz-copy-source': f'/{w.archive}/f.txt'})
                with urllib.request.urlopen(req, timeout=5) as r:
                        self.assertEqual(r.status, 200)
                        self.assertRegex(r.read().decode(), r'^<\?xml[^>]*\?>\s*<Error><Code>InternalError</Code>'
                                         r'<Message>[^<]+</Message><RequestId>[0-9A-F]+</RequestId><HostId>')
                self.assertNotIn('g.txt', w.list_keys(w.archive))

                fp.add('reset', {'method': 'HEAD'})
                with self.assertRaises(ConnectionClosedError):
                        s3.head_object(Bucket=w.archive, Key='f.txt')
                fp.add('delay', {'method': 'HEAD'}, delay_ms=2500)
                with self.assertRaises(ReadTimeoutError):
                        s3.head_object(Bucket=w.archive, Key='f.txt')
                fp.add('truncate', {'method': 'GET'}, bytes=2)
                with self.assertRaises(Exception):
                        s3.get_object(Bucket=w.archive, Key='f.txt')['Body'].read()
                self.assertEqual(s3.head_object(Bucket=w.archive, Key='f.txt')['ContentLength'], 5)

        def test_sns_and_sqs_throttling(self):
                w = self.w
                fp = w.start_fault_proxy(w.info['endpoints']['fauxqs'])
                sns = self.client('sns', fp.url)
                sqs = self.client('sqs', fp.url)
                fp.add('status', {'target': 'SNS.Publish'}, preset='sns-throttled')
                fp.add('status', {'target': 'SNS.Publish'}, preset='sns-throttling')
                fp.add('status', {'target': 'SNS.Publish'}, preset='sns-throttling-exception')
                fp.add('status', {'target': 'AmazonSQS.SendMessage'}, preset='sqs-throttling')
                for code, status in (('Throttled', 429), ('Throttling', 400), ('ThrottlingException', 400)):
                        with self.assertRaises(ClientError) as cm:
                                sns.publish(TopicArn=w.topic_arn, Message='m')
                        self.assertEqual(cm.exception.response['Error']['Code'], code)
                        self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], status)
                with self.assertRaises(ClientError) as cm:
                        sqs.send_message(QueueUrl=w.queue_url, MessageBody='m')
                self.assertEqual(cm.exception.response['Error']['Code'], 'RequestThrottled')
                self.assertEqual(w.queue_depth(), (0, 0))
                sns.publish(TopicArn=w.topic_arn, Message='through')
                self.assertEqual([m['Message'] for m in w.read_sns_messages(expect=1)], ['through'])

        def test_bad_fault_is_refused(self):
                fp = self.w.start_fault_proxy('dynamodb')
                with self.assertRaises(urllib.error.HTTPError) as cm:
                        fp.add('explode')
                self.assertEqual(cm.exception.code, 400)


if __name__ == '__main__':
        unittest.main(verbosity=2)
