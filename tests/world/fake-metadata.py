#!/usr/bin/python3
"""A local stand-in for the EC2 instance metadata service (IMDSv2 only) and the ECS/container
credentials endpoint, behaving as the AWS docs describe, with knobs for tests.

IMDSv2 ("Use the Instance Metadata Service to access instance metadata", HttpTokens=required):
  PUT /latest/api/token                      needs X-aws-ec2-metadata-token-ttl-seconds in
                                             1..21600 (else 400); refused with X-Forwarded-For
                                             (403); answers the token as text/plain and echoes
                                             the TTL header.
  GET /latest/...                            needs a live X-aws-ec2-metadata-token (else 401).
  GET /latest/meta-data/iam/security-credentials/        the role name (404 without a role)
  GET /latest/meta-data/iam/security-credentials/ROLE    {Code, LastUpdated, Type, AccessKeyId,
                                                          SecretAccessKey, Token, Expiration}
  GET /latest/dynamic/instance-identity/document          {region, instanceId, …}
Container credentials ("Amazon ECS task IAM role", EKS Pod Identity):
  GET /v2/credentials/ID (or any path under /ecs/)        {AccessKeyId, SecretAccessKey, Token,
                                                          Expiration, RoleArn}; when an
                                                          authorization token is configured the
                                                          Authorization header must equal it (401).
Test knobs (JSON):
  POST /_admin/config {knob: value, ...}     see KNOBS; "reset_stats": true zeroes the counters,
                                             "expire_tokens": true makes every token stale.
  GET  /_admin/stats                         request counters by kind.

usage: fake-metadata.py [--port N]   (prints the port on the first stdout line; 127.0.0.1 only)
"""
import argparse
import http.server
import json
import secrets
import sys
import threading
import time

KNOBS = {
    "role": "s3batchd-role",      # "" = instance without a role
    "region": "eu-west-3",
    "expire_in": 6 * 3600,        # seconds from now for Expiration …
    "expiration": None,           # … or an absolute UTC epoch
    "delay": 0.0,                 # seconds before answering credential/role/identity requests
    "token_delay": 0.0,           # seconds before answering the token PUT
    "fail_status": 0,             # answer credential requests with this status (e.g. 500)
    "fail_count": -1,             # how many requests fail_status applies to (-1: all)
    "garbage": "",                # "text", "truncated", "code" (Code != Success), "missing"
    "ecs_token": "",              # required Authorization for container requests
    "access_key_prefix": "ASIAFAKE",
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.knobs = dict(KNOBS)
        self.tokens = {}          # token -> expiry (monotonic)
        self.stats = {}
        self.serial = 0

    def count(self, kind):
        with self.lock:
            self.stats[kind] = self.stats.get(kind, 0) + 1


STATE = State()


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- admin ----
    def admin(self):
        if self.path == "/_admin/stats":
            with STATE.lock:
                return self.send(200, json.dumps(STATE.stats), "application/json")
        if self.path == "/_admin/config" and self.command == "POST":
            cfg = json.loads(self.body() or b"{}")
            with STATE.lock:
                if cfg.pop("reset_stats", False):
                    STATE.stats = {}
                if cfg.pop("expire_tokens", False):
                    STATE.tokens = {t: 0 for t in STATE.tokens}
                for k, v in cfg.items():
                    if k not in STATE.knobs:
                        return self.send(400, "unknown knob " + k)
                    STATE.knobs[k] = v
            return self.send(200, "ok")
        return self.send(404, "")

    # ---- credentials document ----
    def credentials(self, imds):
        with STATE.lock:
            k = dict(STATE.knobs)
            STATE.serial += 1
            serial = STATE.serial
            failing = k["fail_status"] and k["fail_count"] != 0
            if failing and k["fail_count"] > 0:
                STATE.knobs["fail_count"] -= 1
        if k["delay"]:
            time.sleep(k["delay"])
        if failing:
            return self.send(k["fail_status"], "Internal error")
        now = time.time()
        exp = k["expiration"] if k["expiration"] is not None else now + k["expire_in"]
        doc = {
            "AccessKeyId": "%s%08d" % (k["access_key_prefix"], serial),
            "SecretAccessKey": "fakeSecret/%d/%s" % (serial, secrets.token_hex(8)),
            "Token": "fakeSessionToken+%d/%s==" % (serial, secrets.token_hex(64)),
            "Expiration": iso(exp),
        }
        if imds:
            doc = dict(Code="Success", LastUpdated=iso(now), Type="AWS-HMAC", **doc)
        else:
            doc["RoleArn"] = "arn:aws:iam::123456789012:role/s3batchd"
        g = k["garbage"]
        if g == "text":
            return self.send(200, "<html>captive portal</html>", "text/html")
        if g == "truncated":
            return self.send(200, json.dumps(doc)[:40], "application/json")
        if g == "code" and imds:
            doc["Code"] = "AssumeRoleUnauthorizedAccess"
        if g == "missing":
            del doc["SecretAccessKey"]
        return self.send(200, json.dumps(doc), "text/plain" if imds else "application/json")

    # ---- IMDSv2 ----
    def token_put(self):
        STATE.count("token")
        if self.headers.get("X-Forwarded-For"):
            return self.send(403, "Forbidden")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.send(400, "Bad Request")
        with STATE.lock:
            delay = STATE.knobs["token_delay"]
        if delay:
            time.sleep(delay)
        tok = secrets.token_urlsafe(42)
        with STATE.lock:
            STATE.tokens[tok] = time.monotonic() + int(ttl)
        return self.send(200, tok, headers=[("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def imds_get(self):
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with STATE.lock:
            live = tok is not None and STATE.tokens.get(tok, 0) > time.monotonic()
            k = dict(STATE.knobs)
        if not live:
            STATE.count("401")
            return self.send(401, "Unauthorized")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            STATE.count("role_list")
            if k["delay"]:
                time.sleep(k["delay"])
            return self.send(200, k["role"]) if k["role"] else self.send(404, "Not Found")
        if self.path.startswith(base):
            STATE.count("imds_credentials")
            if not k["role"] or self.path[len(base):] != k["role"]:
                return self.send(404, "Not Found")
            return self.credentials(imds=True)
        if self.path == "/latest/dynamic/instance-identity/document":
            STATE.count("identity")
            if k["delay"]:
                time.sleep(k["delay"])
            doc = {"accountId": "123456789012", "architecture": "x86_64",
                   "availabilityZone": k["region"] + "a", "instanceId": "i-0123456789abcdef0",
                   "instanceType": "t3.small", "region": k["region"]}
            return self.send(200, json.dumps(doc, indent=2), "text/plain")
        return self.send(404, "Not Found")

    # ---- container ----
    def container(self):
        STATE.count("container")
        with STATE.lock:
            want = STATE.knobs["ecs_token"]
        if want and self.headers.get("Authorization") != want:
            STATE.count("container_401")
            return self.send(401, json.dumps({"code": "AccessDenied"}), "application/json")
        return self.credentials(imds=False)

    def do_PUT(self):
        self.body()
        if self.path == "/latest/api/token":
            return self.token_put()
        return self.send(405, "")

    def do_GET(self):
        if self.path.startswith("/_admin/"):
            return self.admin()
        if self.path.startswith("/latest/"):
            return self.imds_get()
        if self.path.startswith("/v2/credentials/") or self.path.startswith("/ecs/"):
            return self.container()
        return self.send(404, "Not Found")

    def do_POST(self):
        if self.path.startswith("/_admin/"):
            return self.admin()
        self.body()
        return self.send(405, "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
