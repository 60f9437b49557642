#!/usr/bin/python3
"""Every kind of request the client sends carries a SigV4 signature that botocore's signer,
recomputing it from the wire, agrees with (no local server checks signatures; AWS does).
Covers SQS and DynamoDB JSON, SNS form bodies, S3 path-style and virtual-host addressing,
keys with spaces, '+', '&', '%', unicode, "//" and "./", query strings, copy sources and
continuation tokens. A wrong secret must be caught, so the check itself can fail."""
import json
import os
import tempfile
import unittest
import uuid

from awscalllib import WorldTestCase, awscall
from s3_partcopy_shim import PartCopyShim  # noqa: F401  (same directory on sys.path)
from sigv4_verify_proxy import SigV4VerifyProxy

KEYS = ['plain.csv', 'dir/a b+c&d=e%f.csv', 'ünï €/ß.csv', 'x//y//z.csv', 'tilde~star*(paren).csv',
        "quote'semi;colon:at@.csv"]


class SigV4OnTheWire(WorldTestCase):
        @classmethod
        def prepare(cls, w):
                ak, sk = w.info['access_key_id'], w.info['secret_access_key']
                ep = w.info['endpoints']
                cls.proxies = {
                        'sqs': SigV4VerifyProxy(ep['sqs'], ak, sk),
                        'sns': SigV4VerifyProxy(ep['sns'], ak, sk),
                        'dynamodb': SigV4VerifyProxy(ep['dynamodb'], ak, sk),
                        's3': SigV4VerifyProxy(ep['s3'], ak, sk),
                        's3v': SigV4VerifyProxy(ep['s3'], ak, sk, s3_virtual=True),
                }
                cls.tmp = tempfile.mkdtemp(dir=w.dir)

        @classmethod
        def tearDownClass(cls):
                for p in cls.proxies.values():
                        p.close()
                super().tearDownClass()

        def call(self, *args, s3='s3', world=None, **kw):
                p = self.proxies
                return awscall(world or self.w, *args, sqs=p['sqs'].url, sns=p['sns'].url,
                               dynamodb=p['dynamodb'].url, s3=p[s3].url, **kw)

        def file(self, data):
                path = os.path.join(self.tmp, uuid.uuid4().hex)
                with open(path, 'wb') as f:
                        f.write(data)
                return path

        def assert_all_verified(self, *names):
                for n in names:
                        self.assertEqual(self.proxies[n].failures, [], n)
                        self.assertGreater(len(self.proxies[n].seen), 0, n)

        def s3_round_trip(self, style):
                body = b'a,b\n1,2\n'
                for key in KEYS:
                        self.call('s3-put', self.w.inbound, key, self.file(body), 'text/csv; charset=utf-8', s3=style)
                        self.assertEqual(self.w.read_object(self.w.inbound, key), body, key)
                        self.call('s3-head', self.w.inbound, key, s3=style)
                        out = self.call('s3-get', self.w.inbound, key, 'bytes=0-3', s3=style)
                        self.assertEqual(out['result']['bytes'], 4)
                        self.call('s3-copy', self.w.inbound, key, self.w.archive, 'copy/' + key, s3=style)
                        self.assertEqual(self.w.read_object(self.w.archive, 'copy/' + key), body, key)
                        self.call('s3-delete', self.w.archive, 'copy/' + key, s3=style)
                out = self.call('s3-list', self.w.inbound, 'dir/a b+', '1', s3=style)['result']
                self.assertEqual([o['key'] for o in out['objects']], ['dir/a b+c&d=e%f.csv'])
                out = self.call('s3-list', self.w.inbound, '', '2', s3=style)['result']
                self.assertGreaterEqual(out['pages'], 3)               # continuation tokens signed too

        def test_s3_path_style(self):
                self.s3_round_trip('s3')
                self.assert_all_verified('s3')
                self.assertEqual(self.proxies['s3'].virtual_hosted, [])

        def test_s3_virtual_host(self):
                self.s3_round_trip('s3v')
                self.assert_all_verified('s3v')
                # every request named its bucket in the Host header, none in the path
                self.assertEqual(len(self.proxies['s3v'].virtual_hosted), len(self.proxies['s3v'].seen))
                hosts = {h for _, h, _ in self.proxies['s3v'].seen}
                self.assertEqual({h.split('.')[0] for h in hosts}, {self.w.inbound, self.w.archive})

        # libcurl squashes "/./" and "/../" unless CURLOPT_PATH_AS_IS: the key on the wire
        # would then be another object than the one signed.
        def test_s3_dot_segment_keys(self):
                own = SigV4VerifyProxy(self.w.info['endpoints']['s3'], self.w.info['access_key_id'],
                                       self.w.info['secret_access_key'])
                try:
                        for key in ('x/./y.csv', 'x/../y.csv', './lead.csv'):
                                awscall(self.w, 's3-put', self.w.inbound, key, self.file(b'dots'), 'text/csv',
                                        s3=own.url)
                                self.assertEqual(self.w.read_object(self.w.inbound, key), b'dots', key)
                        self.assertEqual(own.failures, [])
                finally:
                        own.close()

        def test_json_and_query_services(self):
                q = self.w.sqs.create_queue(QueueName='sig-' + uuid.uuid4().hex[:8])['QueueUrl']
                self.w.sqs.send_message(QueueUrl=q, MessageBody='m')
                msgs = self.call('sqs-receive', q, '10', '1', '30')['result']
                self.call('sqs-visibility', q, msgs[0]['receipt_handle'], '5')
                self.call('sqs-visibility-batch', q, '6', msgs[0]['receipt_handle'])
                self.call('sqs-attributes', q)
                self.call('sqs-delete-batch', q, msgs[0]['receipt_handle'])
                self.call('ddb-describe', self.w.table)
                items = self.file(json.dumps({'student_id': {'S': 'SIG ü'}, 'course': {'S': 'a+b'}}).encode())
                self.call('ddb-batch-write', self.w.table, items)
                self.call('sns-publish', self.w.topic_arn, 'Subject: a+b=c & d', 'body ü €\nline 2 & more',
                          'status=SUCCESS', 'key=a b+c%.csv')
                self.assert_all_verified('sqs', 'dynamodb', 'sns')

        def test_a_wrong_secret_is_caught(self):
                class WrongSecret:
                        info = self.w.info

                        def daemon_env(inner):
                                env = self.w.daemon_env()
                                env['AWS_SECRET_ACCESS_KEY'] = 'not-the-secret'
                                return env

                out = self.call('ddb-describe', self.w.table, world=WrongSecret(), expect_ok=False)
                self.assertEqual(out['error']['errno'], 'EACCES')
                self.assertTrue(any('signature mismatch' in f for f in self.proxies['dynamodb'].failures))
                self.proxies['dynamodb'].failures.clear()


if __name__ == '__main__':
        unittest.main(verbosity=2)
