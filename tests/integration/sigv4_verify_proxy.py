"""A proxy that checks every request's SigV4 signature the way AWS does, with botocore's
signer (Debian python3-botocore) as the reference, before forwarding it to a local server
that checks nothing. It recomputes the signature from what arrived on the wire — method,
path and query as sent, the headers named in SignedHeaders, the body — so a request that is
sent differently from how it was signed (another Host, a re-encoded key, an unsigned header)
fails here as it would at AWS: 403 SignatureDoesNotMatch, and an entry in `failures`.

With s3_virtual_suffix ("s3.localhost:PORT"), requests addressed virtual-host style
(Host: BUCKET.s3.localhost:PORT) are checked as such, then forwarded path-style."""
import http.client
import http.server
import re
import threading
import urllib.parse

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(r'^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, '
                     r'SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$')


def verify(method, host, raw_path, headers, body, access_key, secret):
        """Returns None when the signature is right, else why not."""
        auth = headers.get('Authorization', '')
        m = AUTH_RE.match(auth)
        if not m:
                return f'malformed Authorization {auth!r}'
        akid, date8, region, service, signed, signature = m.groups()
        if akid != access_key:
                return f'access key {akid}'
        amz_date = headers.get('X-Amz-Date', '')
        if amz_date[:8] != date8:
                return f'X-Amz-Date {amz_date} outside the scope date {date8}'
        names = signed.split(';')
        if names != sorted(names) or 'host' not in names or 'x-amz-date' not in names:
                return f'SignedHeaders {signed}'
        if service == 's3' and 'x-amz-content-sha256' not in names:
                return 'S3 request without a signed x-amz-content-sha256'
        present = {k.lower(): v for k, v in headers.items()}
        missing = [n for n in names if n not in present]
        if missing:
                return f'signed headers not sent: {missing}'
        for unsigned in ('content-type', 'x-amz-target', 'x-amz-security-token', 'range',
                         'x-amz-copy-source', 'x-amz-copy-source-range', 'content-encoding'):
                if unsigned in present and unsigned not in names:
                        return f'{unsigned} sent but not signed'
        sent = {n: present[n] for n in names}
        req = AWSRequest(method=method, url=f'http://{host}{raw_path}', headers=sent, data=body)
        req.context['timestamp'] = amz_date
        cls = S3SigV4Auth if service == 's3' else SigV4Auth
        signer = cls(Credentials(access_key, secret), service, region)
        if service == 's3':
                payload = present.get('x-amz-content-sha256')
                if payload not in ('UNSIGNED-PAYLOAD',):
                        import hashlib
                        if hashlib.sha256(body or b'').hexdigest() != payload:
                                return 'x-amz-content-sha256 does not match the body'
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if expected != signature:
                return f'signature mismatch; botocore canonical request:\n{canonical}'
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
                pass

        def _any(self):
                srv = self.server
                n = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(n) if n else b''
                host = self.headers.get('Host', '')
                headers = {k: v for k, v in self.headers.items()}
                why = verify(self.command, host, self.path, headers, body, srv.access_key, srv.secret)
                path = self.path
                if srv.s3_virtual_suffix and host.endswith('.' + srv.s3_virtual_suffix):
                        bucket = host[:-len(srv.s3_virtual_suffix) - 1]
                        # virtual-host "/key?q" and "/?q" become path-style "/bucket/key?q", "/bucket?q"
                        path = '/' + bucket + (path[1:] if path == '/' or path.startswith('/?') else path)
                        srv.virtual_hosted.append(bucket)
                srv.seen.append((self.command, host, self.path))
                if why:
                        srv.failures.append(f'{self.command} {host}{self.path}: {why}')
                        msg = b'<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature ' \
                              b'we calculated does not match the signature you provided.</Message></Error>'
                        self.send_response(403)
                        self.send_header('Content-Type', 'application/xml')
                        self.send_header('Content-Length', str(len(msg)))
                        self.end_headers()
                        if self.command != 'HEAD':
                                self.wfile.write(msg)
                        return
                fwd = {k: v for k, v in headers.items() if k.lower() not in ('connection', 'host')}
                conn = http.client.HTTPConnection(srv.upstream_host, srv.upstream_port, timeout=60)
                conn.request(self.command, path, body=body or None, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self.send_response_only(resp.status)
                length = str(len(data))
                for k, v in resp.getheaders():
                        if k.lower() == 'content-length' and self.command == 'HEAD':
                                length = v
                        elif k.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                                self.send_header(k, v)
                self.send_header('Content-Length', length)
                self.end_headers()
                if self.command != 'HEAD':
                        self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class SigV4VerifyProxy:
        def __init__(self, upstream, access_key, secret, s3_virtual=False):
                u = urllib.parse.urlsplit(upstream)
                self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
                self.server.daemon_threads = True
                s = self.server
                s.upstream_host, s.upstream_port = u.hostname, u.port
                s.access_key, s.secret = access_key, secret
                s.failures, s.seen, s.virtual_hosted = [], [], []
                port = s.server_address[1]
                s.s3_virtual_suffix = f's3.localhost:{port}' if s3_virtual else None
                host = f's3.localhost:{port}' if s3_virtual else f'127.0.0.1:{port}'
                self.url = f'http://{host}'
                threading.Thread(target=s.serve_forever, daemon=True).start()

        failures = property(lambda self: self.server.failures)
        seen = property(lambda self: self.server.seen)
        virtual_hosted = property(lambda self: self.server.virtual_hosted)

        def close(self):
                self.server.shutdown()
                self.server.server_close()
