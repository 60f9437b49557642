#!/usr/bin/python3
"""packaging/aws/cloudformation.yaml parses (with CloudFormation's short-form tags) and has what
issue 10 asks of it: retained buckets and table, multipart uploads aborted by lifecycle, a
TLS-only policy on every bucket, a table name derived per stack, an encrypted topic, an alarm
on the dead-letter queue, and a redrive maxReceiveCount above the daemon's max_receive_count
(so the daemon gives up and reports first). cfn-lint is used when installed (Debian 12 has no
package for it)."""
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from opslib import Checks, path, read  # noqa: E402
from test_iam_policy import cfn_loader  # noqa: E402

ck = Checks('cfn-template')


def refs(node, tag):
    """Every value of the short-form tag `tag` anywhere under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == tag:
                yield v
            yield from refs(v, tag)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v, tag)


def daemon_default_max_receive_count():
    m = re.search(r'\.max_receive_count\s*=\s*(\d+)', read('conf/config.c'))
    ck.check(m is not None, 'conf/config.c: no default for max_receive_count found')
    return int(m.group(1)) if m else 0


def main():
    t = yaml.load(read('packaging/aws/cloudformation.yaml'), Loader=cfn_loader())
    res, params = t['Resources'], t.get('Parameters', {})
    buckets = {n: r for n, r in res.items() if r['Type'] == 'AWS::S3::Bucket'}
    ck.check(len(buckets) == 3, f'expected 3 buckets, found {sorted(buckets)}')
    policies = [r for r in res.values() if r['Type'] == 'AWS::S3::BucketPolicy']
    for name, b in buckets.items():
        for p in ('DeletionPolicy', 'UpdateReplacePolicy'):
            ck.check(b.get(p) == 'Retain', f'{name}: {p} is not Retain')
        rules = b['Properties'].get('LifecycleConfiguration', {}).get('Rules', [])
        ck.check(any('AbortIncompleteMultipartUpload' in r and r.get('Status') == 'Enabled' for r in rules),
                 f'{name}: no enabled lifecycle rule aborting incomplete multipart uploads')
        tls = [p for p in policies if p['Properties']['Bucket'] == {'!Ref': name}]
        ok = False
        for p in tls:
            for st in p['Properties']['PolicyDocument']['Statement']:
                cond = st.get('Condition', {}).get('Bool', {}).get('aws:SecureTransport')
                ok |= st['Effect'] == 'Deny' and str(cond).lower() == 'false' and st['Principal'] == '*' \
                    and len(st['Resource']) == 2
        ck.check(ok, f'{name}: no bucket policy denying requests without TLS (aws:SecureTransport false) '
                 'on the bucket and its objects')
    tables = [r for r in res.values() if r['Type'] == 'AWS::DynamoDB::Table']
    ck.check(len(tables) == 1, 'expected one table')
    for tb in tables:
        for p in ('DeletionPolicy', 'UpdateReplacePolicy'):
            ck.check(tb.get(p) == 'Retain', f'the table: {p} is not Retain')
        name = tb['Properties'].get('TableName')
        ck.check(isinstance(name, dict) and 'AWS::StackName' in str(name),
                 f'the table name {name!r} does not depend on the stack, so two stacks in a region collide')
    topics = [r for r in res.values() if r['Type'] == 'AWS::SNS::Topic']
    ck.check(topics and all(r['Properties'].get('KmsMasterKeyId') for r in topics), 'the topic is not encrypted')
    alarms = [r for r in res.values() if r['Type'] == 'AWS::CloudWatch::Alarm']
    ck.check(any(r['Properties'].get('Namespace') == 'AWS/SQS' and
                 'DeadLetterQueue.QueueName' in list(refs(r['Properties'], '!GetAtt')) for r in alarms),
             'no CloudWatch alarm on the dead-letter queue')
    mrc = params.get('MaxReceiveCount', {}).get('Default', 0)
    daemon = daemon_default_max_receive_count()
    ck.check(mrc > daemon, f'MaxReceiveCount default {mrc} is not above the daemon\'s max_receive_count default {daemon}')
    ck.check(params.get('MaxReceiveCount', {}).get('MinValue', 0) >= 2, 'MaxReceiveCount allows 1')
    # every !Ref names a parameter, a resource or a pseudo parameter; every !GetAtt a resource
    known = set(params) | set(res) | {'AWS::AccountId', 'AWS::Region', 'AWS::StackName', 'AWS::NoValue',
                                      'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackId'}
    for r in refs(t, '!Ref'):
        ck.check(r in known, f'!Ref {r}: no such parameter or resource')
    for g in refs(t, '!GetAtt'):
        ck.check(g.split('.')[0] in res, f'!GetAtt {g}: no such resource')
    for c in refs(t, '!If'):
        ck.check(c[0] in t.get('Conditions', {}), f'!If {c[0]}: no such condition')
    for s in refs(t, '!Sub'):
        for var in re.findall(r'\$\{([^}!]+)\}', s if isinstance(s, str) else s[0]):
            ck.check(var.split('.')[0] in known, f'!Sub ${{{var}}}: no such parameter or resource')
    if shutil.which('cfn-lint'):
        r = subprocess.run(['cfn-lint', path('packaging/aws/cloudformation.yaml')], capture_output=True, text=True)
        ck.check(r.returncode == 0, 'cfn-lint: ' + r.stdout + r.stderr)
    else:
        print('cfn-lint not installed (not packaged in Debian 12): structural checks only')
    ck.done()


if __name__ == '__main__':
    main()
