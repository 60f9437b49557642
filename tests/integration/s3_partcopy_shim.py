"""UploadPartCopy for the local world, which fauxqs 1.9.2 lacks (it stores an empty body and
answers 500). A pass-through proxy in front of the world's S3 endpoint that performs
`PUT /bucket/key?partNumber=N&uploadId=U` with x-amz-copy-source[-range] the way S3 documents
it — read the source range, upload it as part N — and answers <CopyPartResult>, honouring
x-amz-copy-source-if-match (412 PreconditionFailed). Everything else is forwarded unchanged.
Path-style requests only (the client under test uses path-style for 127.0.0.1)."""
import http.client
import http.server
import threading
import urllib.parse
from datetime import datetime, timezone


class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
                pass

        def _upstream(self, method, path, body=None, headers=None):
                conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                return resp, data

        def _reply(self, status, headers, body):
                self.send_response(status)
                length = str(len(body))
                for k, v in headers:
                        if k.lower() == 'content-length' and self.command == 'HEAD':
                                length = v      # a HEAD answer describes the object, not itself
                        elif k.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                                self.send_header(k, v)
                self.send_header('Content-Length', length)
                self.end_headers()
                if self.command != 'HEAD':
                        self.wfile.write(body)

        def _forward(self):
                n = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != 'connection'}
                resp, data = self._upstream(self.command, self.path, body, headers)
                self._reply(resp.status, resp.getheaders(), data)

        def _part_copy(self, query):
                src = urllib.parse.unquote(self.headers['x-amz-copy-source'])
                src = '/' + src.lstrip('/')
                get_headers = {'Authorization': self.headers.get('Authorization', '')}
                if self.headers.get('x-amz-copy-source-range'):
                        get_headers['Range'] = self.headers['x-amz-copy-source-range']
                resp, data = self._upstream('GET', urllib.parse.quote(src), None, get_headers)
                if resp.status not in (200, 206):
                        return self._reply(resp.status, resp.getheaders(), data)
                want = self.headers.get('x-amz-copy-source-if-match')
                if want and want.strip('"') != (resp.getheader('ETag') or '').strip('"'):
                        self.server.precondition_failures += 1
                        return self._reply(412, [('Content-Type', 'application/xml')],
                                           b'<Error><Code>PreconditionFailed</Code><Message>At least one of the '
                                           b'pre-conditions you specified did not hold</Message></Error>')
                put_path = self.path.split('?', 1)[0] + '?' + urllib.parse.urlencode(
                        {'partNumber': query['partNumber'][0], 'uploadId': query['uploadId'][0]})
                resp, body = self._upstream('PUT', put_path, data,
                                            {'Authorization': self.headers.get('Authorization', ''),
                                             'Content-Length': str(len(data))})
                if resp.status != 200:
                        return self._reply(resp.status, resp.getheaders(), body)
                self.server.part_copies.append(self.headers.get('x-amz-copy-source-range'))
                now = datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z')
                xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult>'
                       f'<LastModified>{now}</LastModified><ETag>{resp.getheader("ETag")}</ETag>'
                       '</CopyPartResult>').encode()
                self._reply(200, [('Content-Type', 'application/xml')], xml)

        def _any(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if (self.command == 'PUT' and self.headers.get('x-amz-copy-source')
                                and 'partNumber' in query and 'uploadId' in query):
                        n = int(self.headers.get('Content-Length') or 0)
                        if n:
                                self.rfile.read(n)
                        return self._part_copy(query)
                return self._forward()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


class PartCopyShim:
        """with PartCopyShim('http://127.0.0.1:P') as url: …  (url is the shim's endpoint)"""

        def __init__(self, upstream):
                u = urllib.parse.urlsplit(upstream)
                self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
                self.server.daemon_threads = True
                self.server.upstream_host, self.server.upstream_port = u.hostname, u.port
                self.server.part_copies = []
                self.server.precondition_failures = 0
                self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

        @property
        def part_copies(self):
                return self.server.part_copies

        def __enter__(self):
                self.thread.start()
                return f'http://127.0.0.1:{self.server.server_address[1]}'

        def __exit__(self, *exc):
                self.server.shutdown()
                self.server.server_close()
                return False
