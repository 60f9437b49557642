#!/usr/bin/python3
"""Loopback HTTP server for test-http: echoes requests and misbehaves on demand.

  /echo            200, JSON {method, path, headers, body_len, body, peer_port}
  /status/NNN      status NNN with a small XML error body and x-amz-request-id
  /bytes/N         N bytes of 'a' with Content-Length
  /sleep/S         waits S seconds, then 200
  /stall           sends headers and 10 bytes of a 1000-byte body, then waits 10 s
  /close           closes the connection without answering
  /headers/N       N response headers of 1 KiB each
  POST /           an Amazon SQS JSON 1.0 endpoint (X-Amz-Target: AmazonSQS.<Action>) for
                   test-sqs, see sqs_answer(); every such request is logged
  /sqs-log         the logged SQS requests: JSON [{target, content_type, authorization, token,
                   body}]
prints the port on the first stdout line. --tls CERT KEY serves https instead.
"""
import hashlib
import http.server
import json
import ssl
import sys
import threading
import time

SQS_LOG = []
SQS_LOCK = threading.Lock()


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def sqs_message(n, body, **extra):
    m = {"MessageId": "m-%d" % n, "ReceiptHandle": "rh-%d" % n, "Body": body,
         "MD5OfBody": md5(body), "Attributes": {"ApproximateReceiveCount": str(n)}}
    m.update(extra)
    return m


# ReceiveMessage: one of each kind the parser must tell apart (SQS API Reference, Message)
RECEIVED = [
    sqs_message(1, '{"Records":[]}'),
    dict(sqs_message(2, "corrupted"), MD5OfBody=md5("original")),
    {"MessageId": "m-3", "Body": "no receipt handle"},
    sqs_message(4, "fifo", Attributes={"ApproximateReceiveCount": "4",
                                       "MessageGroupId": "grades/2024",
                                       "SequenceNumber": "18849496460467696128"}),
    dict(sqs_message(5, "x"), Attributes={"ApproximateReceiveCount": "many"}),
]


def sqs_error(code, message):
    return 400, {"__type": "com.amazonaws.sqs#" + code, "message": message}


def sqs_batch(req):
    """Entries whose handle starts with "bad" fail, "lost" ones go unreported."""
    ok, failed = [], []
    for e in req.get("Entries", []):
        rh = e.get("ReceiptHandle", "")
        if rh.startswith("bad"):
            failed.append({"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True,
                           "Message": "The receipt handle is not valid"})
        elif not rh.startswith("lost"):
            ok.append({"Id": e["Id"]})
    return 200, {"Successful": ok, "Failed": failed}


def sqs_answer(action, req):
    if action == "ReceiveMessage":
        return 200, {"Messages": RECEIVED}
    if action in ("DeleteMessage", "ChangeMessageVisibility"):
        if req.get("ReceiptHandle") == "gone":
            return sqs_error("ReceiptHandleIsInvalid", "The receipt handle has expired")
        return 200, {}
    if action in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
        return sqs_batch(req)
    return sqs_error("InvalidAction", "unknown action " + action)


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
        target = self.headers.get("X-Amz-Target", "")
        if self.command == "POST" and p == "/" and target.startswith("AmazonSQS."):
            with SQS_LOCK:
                SQS_LOG.append({"target": target,
                                "content_type": self.headers.get("Content-Type"),
                                "authorization": self.headers.get("Authorization", ""),
                                "token": self.headers.get("X-Amz-Security-Token"),
                                "body": body.decode()})
            try:
                status, doc = sqs_answer(target.split(".", 1)[1], json.loads(body))
            except ValueError:
                status, doc = sqs_error("InvalidParameterValue", "body is not JSON")
            return self.reply(status, json.dumps(doc).encode(), [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("x-amzn-RequestId", "sqs-req-%d" % len(SQS_LOG))])
        if p == "/sqs-log":
            with SQS_LOCK:
                return self.reply(200, json.dumps(SQS_LOG).encode())
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
