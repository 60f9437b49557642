#!/usr/bin/python3
"""bench/s3synth against boto3 (Debian python3-boto3): the synthetic object is what its
comment says (fixed-width rows, unique keys), any range of it is the same bytes as the whole
object's, and the conditions the daemon relies on hold: If-Match → 412, a range past the end →
416, CopyObject pinned by x-amz-copy-source-if-match, DeleteObject with If-Match, the object
gone until /_synth/reset.

    test-s3synth.py S3SYNTH_BINARY
"""
import csv
import http.client
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BINARY = None
BUCKET, KEY = 'inbound-bucket', 'dir/students 1.csv'    # a key that URL-encoding changes
HEADER = b'student_id,first_name,last_name,course\n'
ROW_WIDTH = 45
ASKED = 100_000


class S3SynthTest(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
                cls.dir = tempfile.TemporaryDirectory()
                ports = os.path.join(cls.dir.name, 'port')
                cls.proc = subprocess.Popen([BINARY, '--bucket', BUCKET, '--key', KEY, '--size', str(ASKED),
                                             '--ports-file', ports], stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 10
                while not os.path.exists(ports):
                        if time.monotonic() > deadline or cls.proc.poll() is not None:
                                raise RuntimeError('s3synth did not start')
                        time.sleep(0.02)
                with open(ports) as f:
                        cls.port = int(f.read())
                cls.url = f'http://127.0.0.1:{cls.port}'
                cls.s3 = boto3.client('s3', endpoint_url=cls.url, region_name='us-east-1',
                                      aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='secret',
                                      config=Config(s3={'addressing_style': 'path'},
                                                    retries={'max_attempts': 1}))

        @classmethod
        def tearDownClass(cls):
                cls.proc.terminate()
                cls.proc.wait(5)
                cls.dir.cleanup()

        def setUp(self):
                urllib.request.urlopen(urllib.request.Request(self.url + '/_synth/reset', method='POST')).read()

        def stats(self):
                return json.loads(urllib.request.urlopen(self.url + '/_synth/stats').read())

        def code(self, fn, **kw):
                with self.assertRaises(ClientError) as cm:
                        fn(**kw)
                return cm.exception.response['ResponseMetadata']['HTTPStatusCode'], \
                        cm.exception.response['Error']['Code']

        def test_object_is_fixed_width_rows_with_unique_keys(self):
                head = self.s3.head_object(Bucket=BUCKET, Key=KEY)
                rows = (ASKED - len(HEADER)) // ROW_WIDTH
                self.assertEqual(head['ContentLength'], len(HEADER) + rows * ROW_WIDTH)
                self.assertRegex(head['ETag'], r'^"[0-9a-f]{32}"$')
                self.assertIn('LastModified', head)
                body = self.s3.get_object(Bucket=BUCKET, Key=KEY)['Body'].read()
                self.assertEqual(len(body), head['ContentLength'])
                self.assertTrue(body.startswith(HEADER))
                lines = body[len(HEADER):].split(b'\n')
                self.assertEqual(lines[-1], b'')
                self.assertTrue(all(len(x) + 1 == ROW_WIDTH for x in lines[:-1]))
                records = list(csv.DictReader(io.StringIO(body.decode())))
                self.assertEqual(len(records), rows)
                self.assertEqual(len({(r['student_id'], r['course']) for r in records}), rows)
                self.assertTrue(all(re.fullmatch(r'A[0-9]{5}', r['student_id']) for r in records))
                st = self.stats()
                self.assertEqual((st['rows'], st['size']), (rows, head['ContentLength']))

        def test_ranges_are_slices_of_the_whole(self):
                whole = self.s3.get_object(Bucket=BUCKET, Key=KEY)['Body'].read()
                size = len(whole)
                rnd = random.Random(12)
                cases = [(0, 0), (0, len(HEADER)), (len(HEADER) - 1, len(HEADER) + ROW_WIDTH),
                         (size - 1, size - 1), (size - 10, size + 1000)]
                cases += [tuple(sorted((rnd.randrange(size), rnd.randrange(size)))) for _ in range(40)]
                for a, b in cases:
                        r = self.s3.get_object(Bucket=BUCKET, Key=KEY, Range=f'bytes={a}-{b}')
                        self.assertEqual(r['ResponseMetadata']['HTTPStatusCode'], 206)
                        self.assertEqual(r['ContentRange'], f'bytes {a}-{min(b, size - 1)}/{size}')
                        self.assertEqual(r['Body'].read(), whole[a:b + 1], (a, b))
                r = self.s3.get_object(Bucket=BUCKET, Key=KEY, Range='bytes=-7')
                self.assertEqual(r['Body'].read(), whole[-7:])
                r = self.s3.get_object(Bucket=BUCKET, Key=KEY, Range=f'bytes={size - 5}-')
                self.assertEqual(r['Body'].read(), whole[-5:])
                self.assertEqual(self.code(self.s3.get_object, Bucket=BUCKET, Key=KEY, Range=f'bytes={size}-'),
                                 (416, 'InvalidRange'))
                self.assertEqual(self.stats()['ranged_gets'], len(cases) + 2)

        def test_if_match(self):
                etag = self.s3.head_object(Bucket=BUCKET, Key=KEY)['ETag']
                self.assertEqual(self.code(self.s3.get_object, Bucket=BUCKET, Key=KEY, IfMatch='"0123"',
                                           Range='bytes=0-9'), (412, 'PreconditionFailed'))
                self.assertEqual(self.code(self.s3.head_object, Bucket=BUCKET, Key=KEY, IfMatch='"0123"')[0], 412)
                r = self.s3.get_object(Bucket=BUCKET, Key=KEY, IfMatch=etag, Range='bytes=0-9')
                self.assertEqual(r['Body'].read(), HEADER[:10])
                self.assertEqual(self.code(self.s3.get_object, Bucket=BUCKET, Key='other.csv'), (404, 'NoSuchKey'))

        def test_copy_and_delete(self):
                etag = self.s3.head_object(Bucket=BUCKET, Key=KEY)['ETag']
                src = {'Bucket': BUCKET, 'Key': KEY}
                self.assertEqual(self.code(self.s3.copy_object, CopySource=src, Bucket='archive', Key=KEY,
                                           CopySourceIfMatch='"0123"'), (412, 'PreconditionFailed'))
                r = self.s3.copy_object(CopySource=src, Bucket='archive', Key=KEY, CopySourceIfMatch=etag)
                self.assertEqual(r['CopyObjectResult']['ETag'], etag)
                self.assertEqual(self.code(self.s3.copy_object, CopySource={'Bucket': BUCKET, 'Key': 'x.csv'},
                                           Bucket='archive', Key=KEY), (404, 'NoSuchKey'))
                self.s3.head_bucket(Bucket='archive')
                # this boto3 has no IfMatch for DeleteObject: the header by hand (signatures
                # are not checked)
                path = f'/{BUCKET}/' + urllib.request.quote(KEY)
                for cond, status in (('"0123"', 412), (etag, 204)):
                        c = http.client.HTTPConnection('127.0.0.1', self.port)
                        c.request('DELETE', path, headers={'If-Match': cond})
                        self.assertEqual(c.getresponse().status, status)
                        c.close()
                self.assertEqual(self.code(self.s3.get_object, Bucket=BUCKET, Key=KEY), (404, 'NoSuchKey'))
                st = self.stats()
                self.assertEqual((st['copies'], st['deletes'], st['deleted']), (1, 1, True))
                self.setUp()
                self.s3.head_object(Bucket=BUCKET, Key=KEY)


if __name__ == '__main__':
        BINARY = sys.argv.pop(1)
        unittest.main(verbosity=1)
