#!/usr/bin/python3
"""A loopback S3 + SNS + DynamoDB stand-in for test-outcome and test-job: it keeps objects in
memory, answers the calls a job makes (path-style S3 GET/HEAD/PUT/copy/DELETE, HeadBucket,
SNS Publish, DynamoDB BatchWriteItem) the way AWS documents them, logs every call in order,
and fails the calls it is told to.

  --log PATH                   append one JSON line per call: {"step", "method", "path", "headers"}
  --object /BUCKET/KEY=FILE    an object, its ETag the MD5 of FILE's bytes
  --fail STEP=STATUS[:CODE]    answer every STEP call with STATUS and error CODE; STATUS
                               "close" drops the connection without an answer
steps: get, head, headbucket, copy, put, delete, publish, batchwrite.
Signatures are not checked (test-sigv4 does that). Prints the port on the first stdout line.
"""
import argparse
import hashlib
import http.server
import json
import os
import sys
import threading
import time

LOCK = threading.Lock()
OBJECTS = {}            # "/bucket/key" -> (bytes, {meta name: value})
FAIL = {}               # step -> (status, code)
LOG_PATH = None


def etag_of(data):
    return hashlib.md5(data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", "fake-req-1")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def s3_error(self, status, code):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>fake %s</Message><RequestId>fake-req-1</RequestId></Error>" % (code, code))
        return self.reply(status, body.encode(), [("Content-Type", "application/xml")])

    def step_of(self, body):
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        if self.command == "POST":
            if b"Action=Publish" in body:
                return "publish"
            target = self.headers.get("X-Amz-Target", "")
            return "batchwrite" if target.endswith("BatchWriteItem") else "other"
        if self.command == "HEAD":
            return "head" if len(parts) == 2 else "headbucket"
        if self.command == "PUT":
            return "copy" if self.headers.get("x-amz-copy-source") else "put"
        return {"GET": "get", "DELETE": "delete"}.get(self.command, "other")

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        step = self.step_of(body)
        with LOCK:
            with open(LOG_PATH, "a") as f:
                f.write(json.dumps({"step": step, "method": self.command, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
        if step in FAIL:
            status, code = FAIL[step]
            if status == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if step == "publish":
                body = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>fake</Message>"
                        "</Error><RequestId>fake-req-1</RequestId></ErrorResponse>" % code)
                return self.reply(int(status), body.encode(), [("Content-Type", "text/xml")])
            if step == "batchwrite":
                body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + code,
                                   "message": "fake"}).encode()
                return self.reply(int(status), body, [("Content-Type", "application/x-amz-json-1.0")])
            return self.s3_error(int(status), code)
        return getattr(self, "do_" + step, self.do_other)(body)

    def do_get(self, body):
        obj = OBJECTS.get(self.path.split("?")[0])
        if obj is None:
            return self.s3_error(404, "NoSuchKey")
        if self.headers.get("If-Match", etag_of(obj[0])).strip('"') != etag_of(obj[0]):
            return self.s3_error(412, "PreconditionFailed")
        return self.reply(200, obj[0], [("ETag", '"%s"' % etag_of(obj[0]))])

    def do_head(self, body):
        obj = OBJECTS.get(self.path.split("?")[0])
        if obj is None:
            return self.reply(404)
        hs = [("ETag", '"%s"' % etag_of(obj[0])), ("Content-Type", "text/csv")]
        hs += [("x-amz-meta-" + k, v) for k, v in obj[1].items()]
        self.send_response(200)
        self.send_header("Content-Length", str(len(obj[0])))
        for k, v in hs:
            self.send_header(k, v)
        self.end_headers()
        return None

    def do_headbucket(self, body):
        return self.reply(200)

    def do_copy(self, body):
        src = "/" + self.headers["x-amz-copy-source"].lstrip("/")
        obj = OBJECTS.get(src)
        if obj is None:
            return self.s3_error(404, "NoSuchKey")
        meta = {k[len("x-amz-meta-"):]: v for k, v in self.headers.items()
                if k.lower().startswith("x-amz-meta-")}
        OBJECTS[self.path.split("?")[0]] = (obj[0], meta)
        result = ("<CopyObjectResult><ETag>&quot;%s&quot;</ETag>"
                  "<LastModified>2026-01-01T00:00:00.000Z</LastModified></CopyObjectResult>" % etag_of(obj[0]))
        return self.reply(200, result.encode(), [("Content-Type", "application/xml")])

    def do_put(self, body):
        OBJECTS[self.path.split("?")[0]] = (body, {})
        return self.reply(200, b"", [("ETag", '"%s"' % etag_of(body))])

    def do_delete(self, body):
        OBJECTS.pop(self.path.split("?")[0], None)
        return self.reply(204)

    def do_publish(self, body):
        return self.reply(200, b"<PublishResponse><PublishResult><MessageId>fake-msg-1</MessageId>"
                          b"</PublishResult></PublishResponse>", [("Content-Type", "text/xml")])

    def do_batchwrite(self, body):
        doc = json.loads(body)
        units = [{"TableName": t, "CapacityUnits": float(len(reqs))} for t, reqs in doc["RequestItems"].items()]
        return self.reply(200, json.dumps({"UnprocessedItems": {}, "ConsumedCapacity": units}).encode(),
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
    global LOG_PATH
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--object", action="append", default=[])
    ap.add_argument("--fail", action="append", default=[])
    a = ap.parse_args()
    LOG_PATH = a.log
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
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    print(srv.server_address[1], flush=True)
    sys.stdout.close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
