#!/usr/bin/python3
"""Loopback HTTP server for test-http: echoes requests and misbehaves on demand.

  /echo            200, JSON {method, path, headers, body_len, body, peer_port}
  /status/NNN      status NNN with a small XML error body and x-amz-request-id
  /bytes/N         N bytes of 'a' with Content-Length
  /sleep/S         waits S seconds, then 200
  /stall           sends headers and 10 bytes of a 1000-byte body, then waits 10 s
  /close           closes the connection without answering
  /headers/N       N response headers of 1 KiB each
prints the port on the first stdout line. --tls CERT KEY serves https instead.
"""
import http.server
import json
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.reply(411)
        body = self.rfile.read(n) if n else b""
        p = self.path
        if p.startswith("/echo"):
            doc = {"method": self.command, "path": p, "headers": list(self.headers.items()),
                   "body_len": len(body), "body": body.decode("latin-1"),
                   "peer_port": self.client_address[1]}
            return self.reply(200, json.dumps(doc).encode(), [
                ("Content-Type", "application/json"), ("x-amzn-RequestId", "req-echo-1"),
                ("ETag", '"abc"'), ("x-amz-crc32", "12345")])
        if p.startswith("/status/"):
            st = int(p.split("/")[2])
            return self.reply(st, b"<Error><Code>SlowDown</Code></Error>",
                              [("x-amz-request-id", "REQ%d" % st),
                               ("Content-Type", "application/xml")])
        if p.startswith("/bytes/"):
            return self.reply(200, b"a" * int(p.split("/")[2]))
        if p.startswith("/sleep/"):
            time.sleep(float(p.split("/")[2]))
            return self.reply(200, b"late")
        if p == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            time.sleep(10)
            return
        if p == "/close":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if p.startswith("/headers/"):
            hs = [("X-Pad-%d" % i, "p" * 1024) for i in range(int(p.split("/")[2]))]
            return self.reply(200, b"ok", hs)
        return self.reply(404)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
