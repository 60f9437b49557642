#!/usr/bin/python3
"""HTTPS as AWS users set it up: a private CA (aws.ca_bundle or AWS_CA_BUNDLE), certificates
checked by name, HTTPS_PROXY / NO_PROXY for the AWS calls and never for instance metadata.

The local world speaks plain HTTP; each test puts a TLS front (this file: Python's ssl module,
one TLS-terminating TCP relay per world endpoint) before it, with certificates made here by
the openssl CLI: a CA, a server certificate for localhost / 127.0.0.1, one for another name,
and one from a CA the daemon was not told about. The fronts record the SNI server_name of each
handshake and the handshakes that failed; the CONNECT proxy records every request it sees."""
import json
import os
import select
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from daemonlib import REFERENCE_CSV, World, items_by_key, run_main, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_DIR = os.path.join(os.path.dirname(HERE), 'world')


# --- certificates ---------------------------------------------------------------------------

def openssl(*args, cwd):
        subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
        openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                '-keyout', f'{name}.key', '-out', f'{name}.pem', '-days', '2', '-subj', f'/CN=s3batchd test {name}',
                '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
                cwd=d)
        return os.path.join(d, f'{name}.pem')


def make_server_cert(d, name, ca, sans):
        with open(os.path.join(d, f'{name}.ext'), 'w') as f:
                f.write(f'subjectAltName={sans}\nbasicConstraints=CA:FALSE\n'
                        'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n')
        openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                '-keyout', f'{name}.key', '-out', f'{name}.csr', '-subj', f'/CN={name}', cwd=d)
        openssl('x509', '-req', '-in', f'{name}.csr', '-CA', f'{ca}.pem', '-CAkey', f'{ca}.key',
                '-CAcreateserial', '-out', f'{name}.pem', '-days', '2', '-extfile', f'{name}.ext', cwd=d)
        return os.path.join(d, f'{name}.pem'), os.path.join(d, f'{name}.key')


# --- relays ---------------------------------------------------------------------------------

def pipe(a, b, count=None):
        """Copies both ways until either side closes; count(n) for the bytes a sent. One thread
        per connection, no concurrent use of an SSL object (all on this thread)."""
        socks = [a, b]
        try:
                while True:
                        if isinstance(a, ssl.SSLSocket) and a.pending():
                                ready = [a]
                        else:
                                ready, _, _ = select.select(socks, [], [], 120)
                                if not ready:
                                        return
                        for s in ready:
                                data = s.recv(65536)
                                if not data:
                                        return
                                if s is a and count:
                                        count(len(data))
                                (b if s is a else a).sendall(data)
        except (OSError, ssl.SSLError):
                return
        finally:
                for s in socks:
                        try:
                                s.close()
                        except OSError:
                                pass


class Server:
        def __init__(self):
                self.sock = socket.create_server(('127.0.0.1', 0))
                self.port = self.sock.getsockname()[1]
                self.lock = threading.Lock()
                self.closed = False
                threading.Thread(target=self._accept, daemon=True).start()

        def _accept(self):
                while True:
                        try:
                                conn, _ = self.sock.accept()
                        except OSError:
                                return
                        threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

        def close(self):
                self.closed = True
                self.sock.close()


class TlsFront(Server):
        """TLS on the outside, the plain endpoint 127.0.0.1:TARGET_PORT inside."""

        def __init__(self, target_port, cert, key):
                self.target_port = target_port
                self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                self.ctx.load_cert_chain(cert, key)
                self.ctx.sni_callback = self._sni
                self.server_names = []          # SNI of every handshake (None: no SNI sent)
                self.handshakes = 0
                self.failed_handshakes = []     # the server side's reason for each
                # bytes relayed to the endpoint: a client that refuses the certificate after
                # the handshake (curl checks the name then) sends none
                self.bytes_in = 0
                super().__init__()

        def _sni(self, sslobj, server_name, ctx):
                with self.lock:
                        self.server_names.append(server_name)

        def serve(self, conn):
                conn.settimeout(120)
                try:
                        tls = self.ctx.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as e:
                        with self.lock:
                                self.failed_handshakes.append(str(e))
                        conn.close()
                        return
                with self.lock:
                        self.handshakes += 1
                pipe(tls, socket.create_connection(('127.0.0.1', self.target_port)), self._count)

        def _count(self, n):
                with self.lock:
                        self.bytes_in += n


class ConnectProxy(Server):
        """An HTTP proxy for https:// URLs (CONNECT, tunnelled to loopback only). It records
        every request line; a plain-HTTP proxy request (absolute-form GET/PUT, what a client
        sends for an http:// URL such as instance metadata) is recorded and refused."""

        def __init__(self):
                self.requests = []
                super().__init__()

        def serve(self, conn):
                conn.settimeout(120)
                head = b''
                try:
                        while b'\r\n\r\n' not in head and len(head) < 65536:
                                chunk = conn.recv(4096)
                                if not chunk:
                                        return conn.close()
                                head += chunk
                        line = head.split(b'\r\n', 1)[0].decode('latin-1')
                        with self.lock:
                                self.requests.append(line)
                        method, target = line.split(' ')[:2]
                        host, _, port = target.rpartition(':')
                        if method != 'CONNECT' or host not in ('localhost', '127.0.0.1'):
                                conn.sendall(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
                                return conn.close()
                        up = socket.create_connection(('127.0.0.1', int(port)))
                        conn.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
                except (OSError, ValueError):
                        return conn.close()
                pipe(conn, up)

        def connects(self):
                with self.lock:
                        return [r for r in self.requests if r.startswith('CONNECT ')]


# --- the tests ------------------------------------------------------------------------------

class Tls(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
                cls.tmp = tempfile.TemporaryDirectory(prefix='s3batchd-tls-')
                d = cls.tmp.name
                cls.ca = make_ca(d, 'ca')
                cls.good = make_server_cert(d, 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1')
                cls.other_name = make_server_cert(d, 'other', 'ca', 'DNS:other.example')
                make_ca(d, 'rogue-ca')
                cls.unknown_ca = make_server_cert(d, 'rogue', 'rogue-ca', 'DNS:localhost,IP:127.0.0.1')

        @classmethod
        def tearDownClass(cls):
                cls.tmp.cleanup()

        def setUp(self):
                self.w = World().__enter__()
                self.fronts = {}
                self.servers = []

        def tearDown(self):
                if self.w.daemon is not None:
                        self.w.stop_daemon()
                for s in self.servers:
                        s.close()
                self.w.__exit__(None, None, None)

        # --- set-up helpers ---
        def front(self, cert, only=None, host='localhost'):
                """Endpoints (for aws.endpoints) with a TLS front before each world endpoint
                (or before ONLY those services; the others stay plain)."""
                endpoints = {}
                for svc, url in self.w.info['endpoints'].items():
                        if svc not in ('sqs', 's3', 'dynamodb', 'sns'):
                                continue
                        if only and svc not in only:
                                endpoints[svc] = url
                                continue
                        port = int(url.rsplit(':', 1)[1].split('/')[0])
                        if port not in self.fronts:
                                f = TlsFront(port, *cert)
                                self.fronts[port] = f
                                self.servers.append(f)
                        endpoints[svc] = f'https://{host}:{self.fronts[port].port}'
                return endpoints

        def config(self, endpoints, **aws):
                return self.w.make_daemon_config(aws=dict(endpoints=endpoints, **aws))

        def upload(self, key='tls/students.csv'):
                self.w.upload(key, REFERENCE_CSV)
                return key

        def loaded(self, key, env=None, config=None):
                self.w.start_daemon(config, env=env or self.env())
                wait_until(lambda: key in self.w.list_keys(self.w.archive), 60, f'{key} archived', self.w)
                self.assertEqual(self.w.stop_daemon(), 0, self.w.daemon_log()[-3000:])
                self.assertIn(('A00001', 'CS101'), items_by_key(self.w))
                self.assertNotIn(key, self.w.list_keys(self.w.inbound))

        def handshakes(self):
                return sum(f.handshakes for f in self.fronts.values())

        def bytes_in(self):
                return sum(f.bytes_in for f in self.fronts.values())

        def env(self):
                env = self.w.daemon_env()
                # nor from the machine's: the system store and a direct line unless a test says
                for k in ('AWS_CA_BUNDLE', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy',
                          'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'):
                        env.pop(k, None)
                return env

        def server_names(self):
                return {n for f in self.fronts.values() for n in f.server_names}

        def refused(self, key, want_in_log, config, env=None):
                """The daemon refuses the certificate: says why, and the file and its event are
                where they were."""
                self.w.start_daemon(config, env=env or self.env())
                try:
                        wait_until(lambda: want_in_log in self.w.daemon_log() or self.w.daemon.poll() is not None,
                                   60, 'the certificate error')
                except TimeoutError:
                        self.fail(f'no {want_in_log!r} in the log:\n{self.w.daemon_log()[-3000:]}')
                time.sleep(0.5)
                self.w.stop_daemon()
                log = self.w.daemon_log()
                self.assertIn(want_in_log, log)
                # no request reached an endpoint through a refused front
                self.assertEqual(self.bytes_in(), 0)
                # nothing lost: the file in inbound, nothing archived or failed, its event queued
                self.assertIn(key, self.w.list_keys(self.w.inbound))
                self.assertEqual(self.w.list_keys(self.w.archive), [])
                self.assertEqual(self.w.list_keys(self.w.errors), [])
                self.assertEqual(items_by_key(self.w), {})
                wait_until(lambda: sum(self.w.queue_depth()) == 1, 40, 'the event back in the queue')
                return log

        # --- the cases ---
        def test_ca_bundle_in_the_config(self):
                key = self.upload()
                cfg = self.config(self.front(self.good), ca_bundle=self.ca)
                self.loaded(key, config=cfg)
                self.assertGreater(self.handshakes(), 0)
                # curl sent SNI for the endpoint's name, and every service went through a front
                self.assertEqual(self.server_names(), {'localhost'})
                self.assertTrue(all(f.handshakes for f in self.fronts.values()))
                self.assertIn(f'trusting the CA bundle {self.ca}', self.w.daemon_log())

        def test_aws_ca_bundle_from_the_environment(self):
                key = self.upload()
                env = self.env()
                env['AWS_CA_BUNDLE'] = self.ca
                self.loaded(key, env=env, config=self.config(self.front(self.good)))
                self.assertEqual(self.server_names(), {'localhost'})

        def test_configured_bundle_wins_over_the_environment(self):
                # aws.ca_bundle plays the part of the CLI's --ca-bundle: it overrides the variable
                rogue_ca = os.path.join(self.tmp.name, 'rogue-ca.pem')
                key = self.upload()
                env = self.env()
                env['AWS_CA_BUNDLE'] = rogue_ca
                self.loaded(key, env=env, config=self.config(self.front(self.good), ca_bundle=self.ca))

        def test_without_the_ca_the_system_store_refuses(self):
                key = self.upload()
                log = self.refused(key, 'SSL certificate problem', self.config(self.front(self.good)))
                self.assertNotIn('trusting the CA bundle', log)

        def test_certificate_for_another_name_is_refused(self):
                key = self.upload()
                log = self.refused(key, "no alternative certificate subject name matches target host name 'localhost'",
                                   self.config(self.front(self.other_name), ca_bundle=self.ca))
                self.assertNotIn('Ready', log)

        def test_unknown_ca_on_s3_is_refused(self):
                # SQS and DynamoDB answer (plain); S3 shows the rogue certificate. The startup
                # check of the buckets meets it first: the daemon waits (STATUS says why) and
                # never reads the file; the event stays, the file stays.
                key = self.upload()
                cfg = self.config(self.front(self.unknown_ca, only=('s3',)), ca_bundle=self.ca)
                log = self.refused(key, 'SSL certificate problem: unable to get local issuer certificate', cfg)
                self.assertRegex(log, r'Bucket inbound-file-drop \(inbound\): S3 HeadBucket inbound-file-drop: '
                                      r'HEAD https://localhost:\d+/.*: SSL certificate problem')
                self.assertNotIn('Ready', log)

        def test_unreadable_ca_bundle(self):
                cfg = self.config(self.front(self.good), ca_bundle=os.path.join(self.tmp.name, 'missing.pem'))
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--check-config', '-c', cfg],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertRegex(p.stderr, r's3batchd\.yaml:\d+:\d+: aws\.ca_bundle: invalid value .*cannot read: '
                                           r'No such file or directory')
                notpem = os.path.join(self.tmp.name, 'localhost.ext')
                cfg = self.config(self.front(self.good), ca_bundle=notpem)
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), '--check-config', '-c', cfg],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1)
                self.assertIn('holds no PEM certificate', p.stderr)
                # AWS_CA_BUNDLE is not in the file: checked when the daemon starts
                env = self.env()
                env['AWS_CA_BUNDLE'] = os.path.join(self.tmp.name, 'missing.pem')
                p = subprocess.run([os.environ.get('S3BATCHD_BIN', 's3batchd'), 'process', 's3://x/y.csv',
                                    '-c', self.config(self.front(self.good))],
                                   capture_output=True, text=True, timeout=60, env=env)
                self.assertEqual(p.returncode, 1)
                self.assertIn('(from AWS_CA_BUNDLE): cannot read: No such file or directory', p.stderr)

        # --- proxies ---
        def metadata(self):
                """tests/world/fake-metadata.py as the instance metadata service; the daemon
                gets its credentials there (none in its environment)."""
                p = subprocess.Popen(['/usr/bin/python3', os.path.join(WORLD_DIR, 'fake-metadata.py')],
                                     stdout=subprocess.PIPE, text=True)
                self.addCleanup(lambda: (p.terminate(), p.wait(), p.stdout.close()))
                url = f'http://127.0.0.1:{int(p.stdout.readline())}'
                env = self.env()
                for k in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
                          'AWS_EC2_METADATA_DISABLED'):
                        env.pop(k, None)
                env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] = url
                return url, env

        def metadata_stats(self, url):
                with urllib.request.urlopen(url + '/_admin/stats', timeout=10) as r:
                        return json.load(r)

        def test_https_proxy_carries_the_aws_calls_not_metadata(self):
                proxy = ConnectProxy()
                self.servers.append(proxy)
                md_url, env = self.metadata()
                for k in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'):
                        env[k] = f'http://127.0.0.1:{proxy.port}'
                for k in ('NO_PROXY', 'no_proxy'):
                        env.pop(k, None)
                key = self.upload()
                self.loaded(key, env=env, config=self.config(self.front(self.good), ca_bundle=self.ca))
                targets = {c.split(' ')[1] for c in proxy.connects()}
                # every front (SQS, S3, DynamoDB, SNS) was reached through the proxy
                self.assertEqual(targets, {f'localhost:{f.port}' for f in self.fronts.values()})
                # the credentials came from the metadata service, directly
                stats = self.metadata_stats(md_url)
                self.assertGreater(sum(v for k, v in stats.items() if 'cred' in k), 0, stats)
                md_port = md_url.rsplit(':', 1)[1]
                self.assertEqual([r for r in proxy.requests if md_port in r or '169.254' in r], [])
                self.assertEqual([r for r in proxy.requests if not r.startswith('CONNECT ')], [])

        def test_no_proxy_bypasses_the_proxy(self):
                proxy = ConnectProxy()
                self.servers.append(proxy)
                env = self.env()
                env['HTTPS_PROXY'] = env['http_proxy'] = f'http://127.0.0.1:{proxy.port}'
                env['NO_PROXY'] = '127.0.0.1,localhost'
                key = self.upload()
                self.loaded(key, env=env, config=self.config(self.front(self.good), ca_bundle=self.ca))
                self.assertEqual(proxy.requests, [])
                self.assertGreater(self.handshakes(), 0)


if __name__ == '__main__':
        run_main()
