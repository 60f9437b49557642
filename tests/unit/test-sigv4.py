#!/usr/bin/python3
"""SigV4 signer vs botocore, stage by stage.

Every request of TABLE is signed by botocore's SigV4Auth / S3SigV4Auth (Debian
python3-botocore) at a fixed time, recording its intermediate strings (canonical_request(),
string_to_sign(), signature()), and by our C signer through sigv4-tool (built by meson), twice:

  - each stage alone, fed with botocore's output of the stage before:
      sigv4_canonical_request(request)                 == botocore canonical request
      sigv4_string_to_sign(botocore canonical request) == botocore string to sign
      sigv4_authorization(botocore string to sign)     == botocore signature, Authorization
    so a wrong stage is named alone, not hidden behind the stages it spoils;
  - sigv4_sign end to end: every stage again, and the URL path/query the C side tells the
    HTTP layer to send must be the one botocore signed.

The table covers each service's real request shapes and every canonicalisation rule we know
of; when a new request shape is added to a service client, add a row here.

usage: test-sigv4.py PATH/TO/sigv4-tool
"""
import datetime
import json
import subprocess
import sys
import types
from unittest import mock
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 29, 7, 44, 56)
FIXED_EPOCH = int((FIXED - datetime.datetime(1970, 1, 1)).total_seconds())
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6example+token/"
         "with=padding==")

CSV = "student_id,first_name,last_name,course\n1001,Ada,Lovelace,MATH101\n"
BATCH = json.dumps({"RequestItems": {"PRELIM_STUDENT_DATA": [
    {"PutRequest": {"Item": {"student_id": {"S": str(1000 + i)}, "course": {"S": "MATH101"},
                             "first_name": {"S": "Zoë"}, "last_name": {"S": "Łukasiewicz"}}}}
    for i in range(25)]}}, ensure_ascii=False)


def sqs(action, body, **kw):
    return dict(service="sqs", method="POST", host="sqs.eu-west-1.amazonaws.com", path="/",
                headers=[["Content-Type", "application/x-amz-json-1.0"],
                         ["X-Amz-Target", "AmazonSQS." + action]],
                body=json.dumps(body), region="eu-west-1", **kw)


def ddb(action, body, **kw):
    d = dict(service="dynamodb", method="POST", host="dynamodb.eu-west-1.amazonaws.com",
             path="/", headers=[["Content-Type", "application/x-amz-json-1.0"],
                                ["X-Amz-Target", "DynamoDB_20120810." + action]],
             body=body if isinstance(body, str) else json.dumps(body), region="eu-west-1")
    d.update(kw)
    return d


def s3(method, path, **kw):
    d = dict(service="s3", method=method, host="s3.eu-west-1.amazonaws.com", path=path,
             region="eu-west-1")
    d.update(kw)
    return d


def sns(params, **kw):
    body = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in params)
    return dict(service="sns", method="POST", host="sns.eu-west-1.amazonaws.com", path="/",
                headers=[["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]],
                body=body, region="eu-west-1", **kw)


QURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound"
TABLE = {
    "sqs-receive": sqs("ReceiveMessage", {"QueueUrl": QURL, "MaxNumberOfMessages": 10,
                                          "WaitTimeSeconds": 20, "VisibilityTimeout": 300,
                                          "AttributeNames": ["ApproximateReceiveCount"]}),
    "sqs-delete-batch-session": sqs("DeleteMessageBatch", {"QueueUrl": QURL, "Entries": [
        {"Id": "0", "ReceiptHandle": "AQEB+/=x"}]}, token=TOKEN),
    "sqs-local-port": dict(sqs("ChangeMessageVisibility", {"QueueUrl": QURL,
                                                          "ReceiptHandle": "r",
                                                          "VisibilityTimeout": 0}),
                           host="127.0.0.1:4566", scheme="http", region="us-east-1"),
    "sqs-empty-json-body": sqs("GetQueueAttributes", {}),
    "ddb-batch-write-unicode": ddb("BatchWriteItem", BATCH),
    "ddb-describe-session": ddb("DescribeTable", {"TableName": "PRELIM_STUDENT_DATA"},
                                token=TOKEN),
    "ddb-local-http": ddb("DescribeTable", {"TableName": "t"}, host="localhost:8000",
                          scheme="http", region="us-east-1"),
    "s3-get": s3("GET", "/landing/grades/2024/class.csv"),
    "s3-get-reserved-key": s3("GET", "/landing/grades/2024 spring/class A+B%=&;:@$,!'()*.csv"),
    "s3-get-unicode-key": s3("GET", "/landing/données/été ✓ 学生.csv"),
    "s3-get-double-slash": s3("GET", "/landing/a//b///c.csv"),
    "s3-get-dot-segments": s3("GET", "/landing/a/./b/../c.csv"),
    "s3-get-range-session": s3("GET", "/landing/big.csv", headers=[["Range", "bytes=0-1048575"]],
                               token=TOKEN),
    "s3-get-virtual-host": s3("GET", "/inbound/file with spaces.csv",
                              host="landing.s3.eu-west-1.amazonaws.com"),
    "s3-head": s3("HEAD", "/landing/x.csv"),
    "s3-delete": s3("DELETE", "/landing/grades/2024 spring/class A+B.csv"),
    "s3-put-report": s3("PUT", "/errors/x.csv.error.json",
                        headers=[["Content-Type", "application/json"]],
                        body='{"rejected": 3, "reason": "r\\u00e9"}'),
    "s3-put-empty": s3("PUT", "/errors/empty", headers=[["Content-Type", "text/csv"]], body=""),
    "s3-put-1mib": s3("PUT", "/archive/big.csv", headers=[["Content-Type", "text/csv"]],
                      body="0123456789abcdef", body_repeat=65536),
    "s3-put-unsigned": s3("PUT", "/archive/stream.csv", headers=[["Content-Type", "text/csv"]],
                          body=CSV, unsigned=True),
    "s3-put-unsigned-session": s3("PUT", "/archive/s t+r.csv", unsigned=True, token=TOKEN,
                                  headers=[["Content-Length", "12"]], body="streamed...."),
    "s3-copy-object": s3("PUT", "/archive/grades/2024 spring/class A+B.csv", headers=[
        ["x-amz-copy-source", quote("landing/grades/2024 spring/class A+B.csv", safe="/~")],
        ["x-amz-metadata-directive", "COPY"]]),
    "s3-upload-part-copy": s3("PUT", "/archive/huge.csv",
                              query=[["partNumber", "3"], ["uploadId", "VXBsb2FkIElE+/=.x"]],
                              headers=[["x-amz-copy-source", "landing/huge.csv"],
                                       ["x-amz-copy-source-range", "bytes=0-5368709119"]]),
    "s3-create-multipart-bare-key": s3("POST", "/archive/huge.csv", query=[["uploads", None]],
                                       headers=[["Content-Type", "text/csv"]]),
    "s3-list-v2-continuation": s3("GET", "/landing", query=[
        ["list-type", "2"], ["prefix", "grades/2024 spring/"], ["max-keys", "1000"],
        ["continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM+A=="]]),
    "s3-list-v2-empty-values": s3("GET", "/landing/", query=[
        ["list-type", "2"], ["delimiter", ""], ["start-after", "a&b=c d"], ["encoding-type", "url"]]),
    "s3-query-reserved-and-repeated": s3("GET", "/landing/q", query=[
        ["b", "!*'();:@&=+$,/?#[]"], ["a", "2"], ["a", "1"], ["a b", "x"], ["a!b", "y"],
        ["a-b", "z"], ["A", ""], ["_", "é"], ["%41", "%"]]),
    "s3-header-whitespace-and-repeats": s3("PUT", "/landing/meta", body="x", headers=[
        ["Content-Type", "text/csv"], ["X-Amz-Meta-Note", "  a   b \t c  "],
        ["x-amz-meta-tag", "one"], ["X-Amz-Meta-Tag", " two  2 "], ["User-Agent", "s3batchd/0.1"],
        ["Expect", "100-continue"]]),
    "s3-delete-objects-md5": s3("POST", "/landing", query=[["delete", None]], headers=[
        ["Content-Type", "application/xml"], ["Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="]],
        body="<Delete><Object><Key>a b.csv</Key></Object><Quiet>true</Quiet></Delete>"),
    "s3-get-version-and-overrides": s3("GET", "/landing/k.csv", query=[
        ["versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"],
        ["response-content-type", "text/csv; charset=utf-8"],
        ["response-content-disposition", 'attachment; filename="é.csv"']]),
    "s3-header-utf8-value": s3("PUT", "/landing/m", body="x", headers=[
        ["Content-Type", "text/csv"], ["x-amz-meta-author", "Zoë Łukasiewicz ✓"]]),
    "s3-tilde-and-bang-key": s3("GET", "/landing/~user/file~1!(2).csv"),
    "sqs-queue-url-path": dict(sqs("SendMessage", {"QueueUrl": QURL, "MessageBody": "hi"}),
                               path="/123456789012/inbound"),
    "non-s3-unicode-path": dict(sqs("ListQueues", {}), path="/é/ü ~/"),
    # no path at all in the URL: the canonical URI is "/" ("Create a canonical request": "If
    # the absolute path is empty, use a forward slash"); our callers always pass "/". (For S3,
    # botocore signs "" then, but never builds an S3 URL without a path: the bucket root is "/".)
    "non-s3-empty-path": dict(sqs("ListQueues", {"QueueNamePrefix": "in"}), path=""),
    "s3-bucket-root-virtual-host": s3("GET", "/", host="landing.s3.eu-west-1.amazonaws.com",
                                    query=[["list-type", "2"], ["prefix", "a b/"]]),
    "s3-local-path-style": s3("GET", "/landing/k.csv", host="127.0.0.1:4566", scheme="http",
                              region="us-east-1"),
    "sns-publish": sns([["Action", "Publish"], ["Version", "2010-03-31"],
                        ["TopicArn", "arn:aws:sns:eu-west-1:123456789012:s3batchd"],
                        ["Subject", "s3batchd: SUCCESS landing/grades.csv"],
                        ["Message", '{"status":"SUCCESS","rows":25}']]),
    "sns-publish-attributes-session": sns([
        ["Action", "Publish"], ["Version", "2010-03-31"],
        ["TopicArn", "arn:aws:sns:eu-west-1:123456789012:s3batchd"],
        ["Message", "fichier reçu ✓ & traité"],
        ["MessageAttributes.entry.1.Name", "status"],
        ["MessageAttributes.entry.1.Value.DataType", "String"],
        ["MessageAttributes.entry.1.Value.StringValue", "PARTIAL"]], token=TOKEN),
    "non-s3-path-normalised-double-encoded": dict(
        sqs("ListQueues", {}), path="/123456789012/a//b/./c/../d%2Fe f/"),
    "non-s3-dotdot-past-root": dict(sqs("ListQueues", {}), path="/../x/.."),
    "non-s3-get-query": dict(service="sns", method="GET", host="sns.us-east-1.amazonaws.com",
                             path="/", region="us-east-1",
                             query=[["Action", "ListTopics"], ["NextToken", "a+b/c= d"],
                                    ["Version", "2010-03-31"]]),
    "aws-doc-iam-list-users": dict(service="iam", method="GET", host="iam.amazonaws.com",
                                   path="/", region="us-east-1",
                                   query=[["Action", "ListUsers"], ["Version", "2010-05-08"]],
                                   headers=[["Content-Type",
                                             "application/x-www-form-urlencoded; charset=utf-8"]]),
}


def url_of(case):
    path = quote(case["path"], safe="/~")    # "" stays "": botocore's URL has no path
    parts = []
    for k, v in case.get("query", []):
        k = quote(k, safe="-_.~")
        parts.append(k if v is None else k + "=" + quote(v, safe="-_.~"))
    url = "%s://%s%s" % (case.get("scheme", "https"), case["host"], path)
    return url + ("?" + "&".join(parts) if parts else ""), path


def botocore_sign(case):
    creds = Credentials(AKID, SECRET, case.get("token"))
    cls = S3SigV4Auth if case["service"] == "s3" else SigV4Auth
    auth = cls(creds, case["service"], case["region"])
    url, _ = url_of(case)
    body = (case.get("body", "") * case.get("body_repeat", 1)).encode()
    req = AWSRequest(method=case["method"], url=url, data=body)
    for name, value in case.get("headers", []):
        req.headers[name] = value     # HTTPHeaders: assignment appends, so repeats are kept
    if case.get("unsigned"):
        req.context["client_config"] = types.SimpleNamespace(
            s3={"payload_signing_enabled": False})

    class FixedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return FIXED

    # record each stage as add_auth computes it (recomputing afterwards would sign the
    # Authorization header it just added)
    stages = {}

    def record(name, fn):
        def wrapper(*args):
            stages[name] = fn(*args)
            return stages[name]
        setattr(auth, name, wrapper)

    for stage in ("canonical_request", "string_to_sign", "signature"):
        record(stage, getattr(auth, stage))
    with mock.patch("botocore.auth.datetime.datetime", FixedDatetime):
        auth.add_auth(req)
    stages["authorization"] = req.headers["Authorization"]
    stages["signed_headers"] = stages["canonical_request"].split("\n")[-2]
    return stages


def tool_input(case, ref=None):
    d = dict(method=case["method"], host=case["host"], path=case["path"] or "/",
             query=case.get("query", []), headers=case.get("headers", []),
             body=case.get("body", ""), body_repeat=case.get("body_repeat", 1),
             access_key=AKID, secret=SECRET, token=case.get("token", ""),
             region=case["region"], service=case["service"], time=FIXED_EPOCH)
    if case.get("unsigned"):
        d["payload_hash"] = "UNSIGNED-PAYLOAD"
    if ref:
        d["ref"] = {k: ref[k] for k in ("canonical_request", "string_to_sign", "signed_headers")}
    return d


STAGES = [  # (what sigv4-tool printed, botocore's, what the C stage was fed)
    ("stage_canonical_request", "canonical_request", "the request"),
    ("stage_signed_headers", "signed_headers", "the request"),
    ("stage_string_to_sign", "string_to_sign", "botocore's canonical request"),
    ("stage_signature", "signature", "botocore's string to sign"),
    ("stage_authorization", "authorization", "botocore's string to sign"),
]


def stage_problems(ours, ref):
    problems = []
    for key in ("stage_canonical_request", "stage_string_to_sign", "stage_authorization"):
        if key + "_error" in ours:
            problems.append("%s failed: %s" % (key, ours[key + "_error"]))
    for key, ref_key, fed in STAGES:
        if ours.get(key) != ref[ref_key]:
            problems.append("%s (from %s) differs:\n  ours:     %r\n  botocore: %r"
                            % (key, fed, ours.get(key), ref[ref_key]))
    return problems


def whole_problems(case, ours, ref):
    if "error" in ours:
        return ["C signer failed: %s" % ours["message"]]
    problems = []
    _, path = url_of(case)
    for stage in ("canonical_request", "string_to_sign", "signature", "authorization"):
        if ours[stage] != ref[stage]:
            problems.append("sigv4_sign %s differs:\n  ours:     %r\n  botocore: %r"
                            % (stage, ours[stage], ref[stage]))
    # the URL the HTTP layer sends must be the one that was signed
    if ours["url_path"] != (path or "/"):
        problems.append("url_path %r != %r" % (ours["url_path"], path or "/"))
    ref_query = ref["canonical_request"].split("\n")[2]
    if ours["url_query"] != ref_query:
        problems.append("url_query %r != canonical %r" % (ours["url_query"], ref_query))
    if ours["add"].get("Authorization") != ref["authorization"]:
        problems.append("Authorization header to add differs")
    if bool(case.get("token")) != ("X-Amz-Security-Token" in ours["add"]):
        problems.append("X-Amz-Security-Token header presence wrong")
    if (case["service"] == "s3") != ("X-Amz-Content-Sha256" in ours["add"]):
        problems.append("X-Amz-Content-Sha256 header presence wrong")
    return problems


def run_tool(tool, inputs):
    out = subprocess.run([tool], input=json.dumps(inputs), capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main():
    tool = sys.argv[1]
    assert len(TABLE) >= 25, "the table must stay wide"
    names = list(TABLE)
    refs = [botocore_sign(TABLE[n]) for n in names]
    results = run_tool(tool, [tool_input(TABLE[n], ref) for n, ref in zip(names, refs)])
    assert len(results) == len(names)
    failures = 0
    sigs = set()
    for name, ours, ref in zip(names, results, refs):
        problems = stage_problems(ours, ref) + whole_problems(TABLE[name], ours, ref)
        if "error" not in ours:
            sigs.add(ours["signature"])
        print("%-40s %s" % (name, "ok" if not problems else "FAIL"))
        for p in problems:
            print("    " + p)
        failures += bool(problems)
    rows_ok = len(names) - failures
    # negative control: the comparison itself must notice a one-character difference in
    # the reference request, or a passing table would prove nothing
    probe = dict(TABLE["s3-get-reserved-key"], path=TABLE["s3-get-reserved-key"]["path"] + " ")
    if botocore_sign(probe)["canonical_request"] == results[names.index("s3-get-reserved-key")]["canonical_request"]:
        print("negative control: a different request compared equal")
        failures += 1

    # a signer that ignored its input would sign every row alike
    signed = sum(1 for r in results if "error" not in r)
    if len(sigs) != signed:
        print("signatures are not all distinct")
        failures += 1
    # AWS's own documented example (Signature Version 4 "Examples of the complete Version 4
    # signing process", IAM ListUsers at 20150830T123600Z): pins botocore and us to AWS.
    doc_in = tool_input(TABLE["aws-doc-iam-list-users"])
    doc_in["time"] = 1440938160
    doc_sig = run_tool(tool, [doc_in])[0]["signature"]
    expect = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    print("%-40s %s" % ("aws-doc-example-signature", "ok" if doc_sig == expect else "FAIL"))
    failures += doc_sig != expect
    print("%d/%d rows match botocore, stage by stage and end to end" % (rows_ok, len(names)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
