#!/usr/bin/python3
"""The one loopback HTTP server of the unit tests that run a python server (test-http,
test-sqs, test-job and test-outcome through fakeaws.h). It stands in for S3, SNS, SQS and
DynamoDB the way AWS documents them, misbehaves on demand, and keeps every request it saw.

Test paths (checked first; no bucket of the tests has these names):
  /echo            200, JSON {method, path, headers, body_len, body, peer_port}
  /status/NNN      status NNN with a small XML error body and x-amz-request-id
  /bytes/N         N bytes of 'a' with Content-Length
  /sleep/S         waits S seconds, then 200
  /stall           sends headers and 10 bytes of a 1000-byte body, then waits 10 s
  /close           closes the connection without answering
  /headers/N       N response headers of 1 KiB each
  /log[?step=S]    the requests seen so far (all, or those of step S), oldest first: JSON
                   [{step, method, path, headers (names in lower case), body}]
AWS calls, each one a step:
  sqs              POST, X-Amz-Target: AmazonSQS.<Action> (AWS JSON 1.0), see sqs_answer()
  batchwrite       POST, X-Amz-Target: DynamoDB_20120810.BatchWriteItem
  publish          POST, form body Action=Publish (SNS Query API)
  get, head, headbucket, copy, put, delete
                   path-style S3 on objects kept in memory (ETag: the MD5 of the bytes)
Options:
  --object /BUCKET/KEY=FILE    an object to start with
  --fail STEP=STATUS[:CODE]    answer every STEP call with STATUS and error CODE (default
                               InternalError) in the service's error format; STATUS "close"
                               drops the connection without an answer
  --tls CERT KEY               serve https instead
Signatures are not checked (test-sigv4 does that). Prints the port on the first stdout line and
exits when the process that started it does.
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
LOG = []                # every request but /log, in order
OBJECTS = {}            # "/bucket/key" -> (bytes, {meta name: value})
FAIL = {}               # step -> (status, code)


def md5(data):
        return hashlib.md5(data if isinstance(data, bytes) else data.encode()).hexdigest()


# --- SQS (Amazon SQS API Reference) -------------------------------------------------------

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

        def aws_reply(self, status, body=b"", headers=()):
                return self.reply(status, body, [("x-amz-request-id", "fake-req-1"), *headers])

        def drop(self):
                self.close_connection = True
                self.connection.shutdown(2)

        def step_of(self, body):
                parts = self.path.split("?")[0].strip("/").split("/", 1)
                if self.command == "POST":
                        target = self.headers.get("X-Amz-Target", "")
                        if target.startswith("AmazonSQS."):
                                return "sqs"
                        if target.endswith(".BatchWriteItem"):
                                return "batchwrite"
                        return "publish" if b"Action=Publish" in body else "other"
                if self.command == "HEAD":
                        return "head" if len(parts) == 2 else "headbucket"
                if self.command == "PUT":
                        return "copy" if self.headers.get("x-amz-copy-source") else "put"
                return {"GET": "get", "DELETE": "delete"}.get(self.command, "other")

        def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                        return self.reply(411)
                body = self.rfile.read(n) if n else b""
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/log":
                        want = urllib.parse.parse_qs(url.query).get("step", [None])[0]
                        with LOCK:
                                seen = [e for e in LOG if want in (None, e["step"])]
                                return self.reply(200, json.dumps(seen).encode(),
                                                  [("Content-Type", "application/json")])
                step = self.step_of(body)
                with LOCK:
                        LOG.append({"step": step, "method": self.command, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body.decode("latin-1")})
                if self.test_path(url.path, body):
                        return None
                if step in FAIL:
                        return self.fail(step, *FAIL[step])
                return getattr(self, "do_" + step)(body)

        def test_path(self, p, body):
                """Answers the test paths; False for any other."""
                arg = p.split("/")[2] if p.count("/") >= 2 else ""
                if p.startswith("/echo"):
                        doc = {"method": self.command, "path": self.path,
                               "headers": list(self.headers.items()), "body_len": len(body),
                               "body": body.decode("latin-1"), "peer_port": self.client_address[1]}
                        self.reply(200, json.dumps(doc).encode(), [
                                ("Content-Type", "application/json"), ("x-amzn-RequestId", "req-echo-1"),
                                ("ETag", '"abc"'), ("x-amz-crc32", "12345")])
                elif p.startswith("/status/"):
                        self.reply(int(arg), b"<Error><Code>SlowDown</Code></Error>",
                                   [("x-amz-request-id", "REQ%d" % int(arg)),
                                    ("Content-Type", "application/xml")])
                elif p.startswith("/bytes/"):
                        self.reply(200, b"a" * int(arg))
                elif p.startswith("/sleep/"):
                        time.sleep(float(arg))
                        self.reply(200, b"late")
                elif p == "/stall":
                        self.send_response(200)
                        self.send_header("Content-Length", "1000")
                        self.end_headers()
                        self.wfile.write(b"0123456789")
                        self.wfile.flush()
                        time.sleep(10)
                elif p == "/close":
                        self.drop()
                elif p.startswith("/headers/"):
                        self.reply(200, b"ok", [("X-Pad-%d" % i, "p" * 1024) for i in range(int(arg))])
                else:
                        return False
                return True

        def fail(self, step, status, code):
                """The error of --fail, in the format of the service the step belongs to."""
                if status == "close":
                        return self.drop()
                if step == "publish":
                        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>fake</Message>"
                                "</Error><RequestId>fake-req-1</RequestId></ErrorResponse>" % code)
                        return self.aws_reply(int(status), body.encode(), [("Content-Type", "text/xml")])
                if step == "batchwrite":
                        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + code,
                                           "message": "fake"}).encode()
                        return self.aws_reply(int(status), body, [("Content-Type", "application/x-amz-json-1.0")])
                if step == "sqs":
                        body = json.dumps({"__type": "com.amazonaws.sqs#" + code, "message": "fake"}).encode()
                        return self.aws_reply(int(status), body, [("Content-Type", "application/x-amz-json-1.0")])
                return self.s3_error(int(status), code)

        def s3_error(self, status, code):
                body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                        "<Message>fake %s</Message><RequestId>fake-req-1</RequestId></Error>" % (code, code))
                return self.aws_reply(status, body.encode(), [("Content-Type", "application/xml")])

        def do_sqs(self, body):
                try:
                        status, doc = sqs_answer(self.headers["X-Amz-Target"].split(".", 1)[1], json.loads(body))
                except ValueError:
                        status, doc = sqs_error("InvalidParameterValue", "body is not JSON")
                return self.reply(status, json.dumps(doc).encode(), [
                        ("Content-Type", "application/x-amz-json-1.0"),
                        ("x-amzn-RequestId", "sqs-req-%d" % len(LOG))])

        def do_get(self, body):
                obj = OBJECTS.get(self.path.split("?")[0])
                if obj is None:
                        return self.s3_error(404, "NoSuchKey")
                if self.headers.get("If-Match", md5(obj[0])).strip('"') != md5(obj[0]):
                        return self.s3_error(412, "PreconditionFailed")
                return self.aws_reply(200, obj[0], [("ETag", '"%s"' % md5(obj[0]))])

        def do_head(self, body):
                obj = OBJECTS.get(self.path.split("?")[0])
                if obj is None:
                        return self.aws_reply(404)
                self.send_response(200)
                self.send_header("Content-Length", str(len(obj[0])))
                self.send_header("x-amz-request-id", "fake-req-1")
                self.send_header("ETag", '"%s"' % md5(obj[0]))
                self.send_header("Content-Type", "text/csv")
                for k, v in obj[1].items():
                        self.send_header("x-amz-meta-" + k, v)
                self.end_headers()
                return None

        def do_headbucket(self, body):
                return self.aws_reply(200)

        def do_copy(self, body):
                src = "/" + self.headers["x-amz-copy-source"].lstrip("/")
                obj = OBJECTS.get(src)
                if obj is None:
                        return self.s3_error(404, "NoSuchKey")
                meta = {k[len("x-amz-meta-"):]: v for k, v in self.headers.items()
                        if k.lower().startswith("x-amz-meta-")}
                OBJECTS[self.path.split("?")[0]] = (obj[0], meta)
                result = ("<CopyObjectResult><ETag>&quot;%s&quot;</ETag>"
                          "<LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyObjectResult>" % md5(obj[0]))
                return self.aws_reply(200, result.encode(), [("Content-Type", "application/xml")])

        def do_put(self, body):
                OBJECTS[self.path.split("?")[0]] = (body, {})
                return self.aws_reply(200, b"", [("ETag", '"%s"' % md5(body))])

        def do_delete(self, body):
                OBJECTS.pop(self.path.split("?")[0], None)
                return self.aws_reply(204)

        def do_publish(self, body):
                return self.aws_reply(200, b"<PublishResponse><PublishResult><MessageId>fake-msg-1</MessageId>"
                                      b"</PublishResult></PublishResponse>", [("Content-Type", "text/xml")])

        def do_batchwrite(self, body):
                doc = json.loads(body)
                units = [{"TableName": t, "CapacityUnits": float(len(reqs))}
                         for t, reqs in doc["RequestItems"].items()]
                return self.aws_reply(200, json.dumps({"UnprocessedItems": {}, "ConsumedCapacity": units}).encode(),
                                      [("Content-Type", "application/x-amz-json-1.0")])

        def do_other(self, body):
                return self.s3_error(400, "NotImplemented")

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def exit_with_parent(parent):
        """A test that failed half-way must not leave its server behind."""
        while os.getppid() == parent:
                time.sleep(0.2)
        os._exit(0)


def main():
        ap = argparse.ArgumentParser()
        ap.add_argument("--object", action="append", default=[])
        ap.add_argument("--fail", action="append", default=[])
        ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
        a = ap.parse_args()
        for spec in a.object:
                name, path = spec.split("=", 1)
                with open(path, "rb") as f:
                        OBJECTS[name] = (f.read(), {})
        for spec in a.fail:
                step, what = spec.split("=", 1)
                status, _, code = what.partition(":")
                FAIL[step] = (status, code or "InternalError")
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        if a.tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*a.tls)
                srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
        print(srv.server_address[1], flush=True)
        sys.stdout.close()
        srv.serve_forever()


if __name__ == "__main__":
        sys.exit(main())
