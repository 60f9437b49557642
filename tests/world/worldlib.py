"""A local AWS world for integration tests (run them with /usr/bin/python3).

    with World() as w:
            w.upload('grades.csv', b'student_id,...\\n')
            w.start_daemon(w.make_daemon_config(workers=1))
            w.wait_for_queue_empty()
            rows = w.scan_table()

The world (fauxqs, dynalite, the S3 event bridge) lives in a temporary directory and is
stopped on exit, also when the test fails; the daemon and fault proxies with it. Set
S3BATCHD_KEEP_WORLD=1 to keep the directory (logs) after a failure. WorldTestCase: one world
shared by the tests of a class.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worldctl  # noqa: E402

SRCDIR = os.environ.get('S3BATCHD_SRCDIR',
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _merge(base, overrides):
        """Deep-merges OVERRIDES into BASE; a None value deletes the key."""
        for k, v in overrides.items():
                if v is None:
                        base.pop(k, None)
                elif isinstance(v, dict) and isinstance(base.get(k), dict):
                        _merge(base[k], v)
                else:
                        base[k] = v
        return base


def _die_with_parent():
        """In the child before exec: SIGTERM when the test process dies, even by SIGKILL."""
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class FaultProxy:
        """A fault-proxy.js in front of one endpoint; `url` is what the client should use."""

        def __init__(self, info):
                self.url = info['proxy']
                self.control = info['control']
                self.pid = info['pid']

        def _call(self, method, path, body=None):
                data = json.dumps(body).encode() if body is not None else None
                req = urllib.request.Request(self.control + path, data=data, method=method,
                                             headers={'Content-Type': 'application/json'})
                with urllib.request.urlopen(req, timeout=10) as r:
                        return json.loads(r.read() or b'{}')

        def add(self, action, match=None, **fields):
                """Queues a fault, e.g. add('status', {'target': T}, preset='dynamodb-throughput',
                times=3). See fault-proxy.js for the fields."""
                return self._call('POST', '/faults', dict(fields, action=action, match=match or {}))['id']

        def clear(self):
                self._call('DELETE', '/faults')

        def stats(self):
                return self._call('GET', '/stats')

        def requests(self):
                return self._call('GET', '/requests')

        def capacity(self):
                """WCU forwarded per second and calls throttled (fault-proxy.js, GET /capacity)."""
                return self._call('GET', '/capacity')


class World:
        def __init__(self, keep=None, redrive_max_receive_count=worldctl.MAX_RECEIVE_COUNT):
                self.keep = os.environ.get('S3BATCHD_KEEP_WORLD') == '1' if keep is None else keep
                self.redrive_max_receive_count = redrive_max_receive_count
                self.dir = None
                self.info = None
                self.daemon = None
                self._daemon_log = None

        # --- lifetime ---------------------------------------------------------------------
        @classmethod
        def attach(cls, world_dir):
                """A World for one already started with `world start` (not stopped on exit)."""
                w = cls()
                w.dir = os.path.abspath(world_dir)
                w.info = worldctl.load(w.dir)
                c = worldctl.clients(w.info)
                w.s3, w.sqs, w.sns, w.dynamodb = c['s3'], c['sqs'], c['sns'], c['dynamodb']
                return w

        def __enter__(self):
                self.dir = tempfile.mkdtemp(prefix='s3batchd-world-')
                try:
                        self.info = worldctl.start(self.dir, owner_pid=os.getpid(),
                                                   redrive_max_receive_count=self.redrive_max_receive_count)
                except BaseException:
                        self._cleanup(failed=True)
                        raise
                c = worldctl.clients(self.info)
                self.s3, self.sqs, self.sns, self.dynamodb = c['s3'], c['sqs'], c['sns'], c['dynamodb']
                return self

        def __exit__(self, exc_type, exc, tb):
                self._cleanup(failed=exc_type is not None)
                return False

        def _cleanup(self, failed):
                if self.daemon is not None:
                        self.stop_daemon()
                for name in ('s3', 'sqs', 'sns', 'dynamodb'):
                        if hasattr(self, name):
                                getattr(self, name).close()
                worldctl.stop(self.dir)
                if failed:
                        print(f'world: logs in {self.dir}/logs', file=sys.stderr)
                if not (failed and self.keep):
                        shutil.rmtree(self.dir, ignore_errors=True)

        # --- names ------------------------------------------------------------------------
        @property
        def queue_url(self):
                return self.info['queues']['inbound']['url']

        @property
        def dlq_url(self):
                return self.info['queues']['dlq']['url']

        @property
        def capture_url(self):
                return self.info['queues']['sns_capture']['url']

        @property
        def topic_arn(self):
                return self.info['topic_arn']

        @property
        def table(self):
                return self.info['table']

        @property
        def inbound(self):
                return self.info['buckets']['inbound']

        @property
        def archive(self):
                return self.info['buckets']['archive']

        @property
        def errors(self):
                return self.info['buckets']['error']

        def processes(self):
                return worldctl.load(self.dir)['processes']

        # --- S3 ---------------------------------------------------------------------------
        def upload(self, key, body, bucket=None, content_type='text/csv'):
                if isinstance(body, str):
                        body = body.encode()
                return self.s3.put_object(Bucket=bucket or self.inbound, Key=key, Body=body,
                                          ContentType=content_type)

        def list_keys(self, bucket):
                out = []
                for page in self.s3.get_paginator('list_objects_v2').paginate(Bucket=bucket):
                        out += [o['Key'] for o in page.get('Contents', [])]
                return out

        def read_object(self, bucket, key):
                return self.s3.get_object(Bucket=bucket, Key=key)['Body'].read()

        # --- SQS --------------------------------------------------------------------------
        def receive(self, queue_url=None, wait=5, delete=True, max_messages=10):
                """One receive (long poll up to WAIT s); returns the message dicts."""
                url = queue_url or self.queue_url
                msgs = self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait,
                                                MaxNumberOfMessages=max_messages,
                                                AttributeNames=['All']).get('Messages', [])
                if delete:
                        for m in msgs:
                                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m['ReceiptHandle'])
                return msgs

        def queue_depth(self, queue_url=None):
                """(visible, in flight) messages of a queue."""
                a = self.sqs.get_queue_attributes(
                        QueueUrl=queue_url or self.queue_url,
                        AttributeNames=['ApproximateNumberOfMessages',
                                        'ApproximateNumberOfMessagesNotVisible'])['Attributes']
                return (int(a['ApproximateNumberOfMessages']),
                        int(a['ApproximateNumberOfMessagesNotVisible']))

        def wait_for_queue_empty(self, queue_url=None, timeout=60):
                """Waits until the queue has no visible and no in-flight message."""
                deadline = time.monotonic() + timeout
                while True:
                        depth = self.queue_depth(queue_url)
                        if depth == (0, 0):
                                return
                        self.check_daemon()
                        if time.monotonic() > deadline:
                                raise TimeoutError(f'queue not empty after {timeout} s: {depth}')
                        time.sleep(0.1)

        # --- DynamoDB ---------------------------------------------------------------------
        def scan_table(self, table=None):
                """Every item of TABLE as plain Python values."""
                from boto3.dynamodb.types import TypeDeserializer
                des = TypeDeserializer()
                items = []
                for page in self.dynamodb.get_paginator('scan').paginate(TableName=table or self.table):
                        items += [{k: des.deserialize(v) for k, v in it.items()} for it in page['Items']]
                return items

        # --- SNS --------------------------------------------------------------------------
        def read_sns_messages(self, expect=1, timeout=10):
                """Reads at least EXPECT notifications (or what came within TIMEOUT s) from the
                sns-capture queue; returns the SNS envelopes with 'Message' parsed as JSON when
                it is JSON (the raw text stays in 'MessageText')."""
                out = []
                deadline = time.monotonic() + timeout
                while len(out) < expect and time.monotonic() < deadline:
                        wait = max(1, min(5, int(deadline - time.monotonic())))
                        for m in self.receive(self.capture_url, wait=wait):
                                env = json.loads(m['Body'])
                                env['MessageText'] = env.get('Message')
                                try:
                                        env['Message'] = json.loads(env['Message'])
                                except (TypeError, ValueError):
                                        pass
                                out.append(env)
                return out

        # --- the daemon -------------------------------------------------------------------
        def daemon_config(self, **overrides):
                """The s3batchd configuration (a dict) for this world, deep-merged with OVERRIDES."""
                ep = self.info['endpoints']
                cfg = {
                        'aws': {
                                'region': self.info['region'],
                                'endpoints': {'sqs': ep['sqs'], 's3': ep['s3'],
                                              'dynamodb': ep['dynamodb'], 'sns': ep['sns']},
                                's3_force_path_style': True,
                        },
                        'queue': {
                                'url': self.queue_url,
                                'wait_seconds': 1,
                                'max_messages': 10,
                                'visibility_timeout': 30,
                                # below the redrive policy's maxReceiveCount, so the daemon
                                # gives up on a file itself before SQS dead-letters its message
                                'max_receive_count': worldctl.MAX_RECEIVE_COUNT - 1,
                        },
                        'workers': 2,
                        'archive': {'bucket': self.archive, 'prefix': ''},
                        'errors': {'bucket': self.errors, 'prefix': ''},
                        'notify': {'topic_arn': self.topic_arn, 'on': ['success', 'partial', 'failure']},
                        'pipelines': [{
                                'name': 'students',
                                'match': {'bucket': self.inbound, 'prefix': '', 'suffix': '.csv'},
                                'table': self.table,
                                'csv': {'delimiter': ',', 'header': 'required',
                                        'null_values': ['', 'NULL'], 'compression': 'auto'},
                                'columns': [
                                        {'name': 'student_id', 'type': 'string', 'required': True,
                                         'pattern': '^A[0-9]{5}$'},
                                        {'name': 'first_name', 'type': 'string', 'required': True,
                                         'max_length': 64},
                                        {'name': 'last_name', 'type': 'string', 'required': True},
                                        {'name': 'course', 'type': 'string', 'required': True},
                                ],
                                'key': {'partition': 'student_id', 'sort': 'course'},
                                'max_rejected_rows': 0,
                        }],
                }
                return _merge(cfg, overrides)

        def make_daemon_config(self, name='s3batchd.yaml', **overrides):
                """Writes daemon_config(**overrides) as YAML into the world dir; returns its path."""
                import yaml
                path = os.path.join(self.dir, name)
                with open(path, 'w') as f:
                        yaml.safe_dump(self.daemon_config(**overrides), f, sort_keys=False)
                return path

        def daemon_env(self):
                env = dict(os.environ)
                env.update(worldctl.client_env(self.info))
                # Nothing from the developer's own AWS setup may leak into a test.
                env['AWS_CONFIG_FILE'] = os.path.join(self.dir, 'no-aws-config')
                env['AWS_SHARED_CREDENTIALS_FILE'] = os.path.join(self.dir, 'no-aws-credentials')
                for k in ('AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
                          'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'):
                        env.pop(k, None)
                return env

        def start_daemon(self, config, args=(), binary=None, env=None):
                """Starts `s3batchd --config CONFIG ARGS...` (S3BATCHD_BIN) with its output in
                DIR/logs/daemon.log; stopped with the world."""
                binary = binary or os.environ.get('S3BATCHD_BIN', 's3batchd')
                argv = [binary, '--config', config, *args]
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env or self.daemon_env(),
                                        start_new_session=True, preexec_fn=_die_with_parent)
                # A reader thread keeps the pipe drained and the log on disk as it comes.
                import threading
                log_path = os.path.join(self.dir, 'logs', 'daemon.log')
                self._daemon_log = log_path

                def pump():
                        with open(log_path, 'ab') as f:
                                for line in proc.stdout:
                                        f.write(line)
                                        f.flush()
                t = threading.Thread(target=pump, daemon=True)
                t.start()
                self.daemon = proc
                self._pump = t
                worldctl.register(self.dir, {'name': 'daemon', 'pid': proc.pid,
                                             'starttime': worldctl._proc_starttime(proc.pid),
                                             'argv': argv})
                return proc

        def check_daemon(self):
                """Raises if a started daemon has exited."""
                if self.daemon is not None and self.daemon.poll() is not None:
                        raise RuntimeError(f's3batchd exited with {self.daemon.returncode}:\n'
                                           + self.daemon_log()[-4000:])

        def stop_daemon(self, timeout=15):
                """SIGTERM, wait; returns the exit status (SIGKILL after TIMEOUT, then -9)."""
                proc, self.daemon = self.daemon, None
                if proc is None:
                        return None
                if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                        try:
                                proc.wait(timeout)
                        except subprocess.TimeoutExpired:
                                os.killpg(proc.pid, signal.SIGKILL)
                                proc.wait()
                self._pump.join(5)
                return proc.returncode

        def daemon_log(self):
                if not self._daemon_log or not os.path.exists(self._daemon_log):
                        return ''
                with open(self._daemon_log, errors='replace') as f:
                        return f.read()

        # --- faults -----------------------------------------------------------------------
        def start_fault_proxy(self, target):
                """A fault proxy in front of TARGET ('dynamodb', 's3', 'sqs', 'sns' or a URL)."""
                url = self.info['endpoints'].get(target, target)
                return FaultProxy(worldctl.start_fault_proxy(self.dir, url))



class WorldTestCase(unittest.TestCase):
        """A test class whose tests share one world, cls.w. setUpClass starts it and hands it to
        the class's prepare(w) (buckets, tables, proxies, a daemon); when prepare fails the
        world is taken down before the error goes on, so nothing is left running.
        tearDownClass stops it (the daemon with it)."""

        @classmethod
        def prepare(cls, w):
                pass

        @classmethod
        def setUpClass(cls):
                cls.w = World().__enter__()
                try:
                        cls.prepare(cls.w)
                except BaseException:
                        cls.w.__exit__(*sys.exc_info())
                        raise

        @classmethod
        def tearDownClass(cls):
                cls.w.__exit__(None, None, None)

if __name__ == '__main__':
        # `worldlib.py daemon-config WORLD_DIR`: the daemon's YAML for a running world, on stdout.
        if len(sys.argv) != 3 or sys.argv[1] != 'daemon-config':
                sys.exit('usage: worldlib.py daemon-config WORLD_DIR')
        import yaml
        yaml.safe_dump(World.attach(sys.argv[2]).daemon_config(), sys.stdout, sort_keys=False)
