"""Helpers shared by the daemon integration tests (test_daemon_*.py)."""
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'world'))
from worldlib import World, WorldTestCase  # noqa: E402,F401

REFERENCE_CSV = ('student_id,first_name,last_name,course\n'
                 'A00001,Ada,Lovelace,CS101\n'
                 'A00002,Alan,Turing,CS102\n'
                 'A00003,Grace,Hopper,CS101\n'
                 'A00004,Edsger,Dijkstra,CS103\n')


HEADER = 'student_id,first_name,last_name,course\n'


def rows(n, course, first='F', start=0):
        """A reference-shaped CSV of n rows A<start>..: values depend on course and first."""
        return HEADER + ''.join(f'A{i:05d},{first}{i},L{i},{course}\n' for i in range(start, start + n))


class NotifySocket:
        """A datagram socket standing in for systemd's NOTIFY_SOCKET, every datagram kept with
        the time it arrived. A thread reads it all the time, as systemd does: a unix datagram
        queue holds only net.unix.max_dgram_qlen (10) messages, and sd_notify() blocks when it
        is full."""

        def __init__(self, path):
                import socket
                import threading
                self.path = path
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.sock.bind(path)
                self.sock.settimeout(0.2)
                self.seen = []
                self.lock = threading.Lock()
                self.running = True
                self.thread = threading.Thread(target=self._read, daemon=True)
                self.thread.start()

        def _read(self):
                import socket
                while self.running:
                        try:
                                msg = self.sock.recv(4096).decode()
                        except socket.timeout:
                                continue
                        except OSError:
                                return
                        with self.lock:
                                self.seen.append((time.monotonic(), msg))

        def timed_lines(self):
                with self.lock:
                        return [(t, line) for t, m in self.seen for line in m.split('\n')]

        def lines(self):
                return [line for _, line in self.timed_lines()]

        def times(self, line):
                return [t for t, x in self.timed_lines() if x == line]

        def statuses(self):
                return [x[len('STATUS='):] for x in self.lines() if x.startswith('STATUS=')]

        def clear(self):
                with self.lock:
                        self.seen.clear()

        def wait_for(self, line, timeout=20):
                return wait_until(lambda: line in self.lines(), timeout, f'sd_notify {line}')

        def close(self):
                self.running = False
                self.thread.join(2)
                self.sock.close()


class SharedDaemonTestCase(WorldTestCase):
        """A test class whose tests share one world and one running daemon: the class's
        configure(w) prepares the world and returns the daemon's configuration (cls.config),
        the daemon runs from setUpClass on; at the end it must exit cleanly."""

        @classmethod
        def configure(cls, w):
                return w.make_daemon_config()

        @classmethod
        def prepare(cls, w):
                cls.config = cls.configure(w)
                w.start_daemon(cls.config)

        @classmethod
        def tearDownClass(cls):
                status = cls.w.stop_daemon()
                log = cls.w.daemon_log()
                super().tearDownClass()
                # a clean exit, also under the sanitizers (leaks make the status non-zero)
                if status != 0 or 'runtime error' in log:
                        raise AssertionError(f's3batchd exited with {status}:\n{log[-4000:]}')


def s3_event(bucket, keys, event='ObjectCreated:Put', form_encode=True, etags=None,
             sequencer='00000661647A4CBBE9'):
        """An S3 notification body as real S3 sends it, one record per key. The daemon pins
        its work to the record's eTag: give the objects' real ones (s3_event_for)."""
        import urllib.parse
        recs = []
        for k in keys:
                ek = urllib.parse.quote_plus(k, safe='/') if form_encode else k
                recs.append({'eventVersion': '2.1', 'eventSource': 'aws:s3', 'awsRegion': 'us-east-1',
                             'eventTime': '2026-11-29T06:33:56.737Z', 'eventName': event,
                             's3': {'s3SchemaVersion': '1.0', 'configurationId': 'manual',
                                    'bucket': {'name': bucket, 'arn': 'arn:aws:s3:::' + bucket},
                                    'object': {'key': ek, 'size': 1,
                                               'eTag': (etags or {}).get(k, '0' * 32),
                                               'sequencer': sequencer}}})
        return json.dumps({'Records': recs})


def s3_event_for(world, bucket, keys, **kw):
        """s3_event with each existing object's real ETag, as S3 would send it."""
        etags = {}
        for k in keys:
                try:
                        etags[k] = world.s3.head_object(Bucket=bucket, Key=k)['ETag'].strip('"')
                except Exception:       # a key that does not exist keeps a made-up ETag
                        pass
        return s3_event(bucket, keys, etags=etags, **kw)


def wait_until(pred, timeout=30, what='condition', world=None):
        deadline = time.monotonic() + timeout
        while True:
                v = pred()
                if v:
                        return v
                if world is not None:
                        world.check_daemon()
                if time.monotonic() > deadline:
                        raise TimeoutError(f'{what} not reached after {timeout} s')
                time.sleep(0.1)


def items_by_key(world):
        return {(i['student_id'], i['course']): i for i in world.scan_table()}


def drain_sns(world):
        while world.receive(world.capture_url, wait=0):
                pass


def run_main():
        unittest.main(verbosity=2)
