#!/usr/bin/python3
"""Every AWS operation the code in common/aws/ makes is allowed by packaging/aws/iam-policy.json
on the resources it touches, and the CloudFormation role carries the same actions.

Operations are found in the sources, not listed by hand: DynamoDB's X-Amz-Target strings,
SQS's action names (JSON protocol, AmazonSQS.<Action>), SNS's Action= form fields, and S3
requests by method + query + headers of each function that builds one. Each operation maps to
the IAM actions it needs on which resources (Service Authorization Reference, "Actions
defined by Amazon S3 / Amazon SQS / Amazon DynamoDB / Amazon SNS"). An operation without a
mapping fails the test: add it to OPERATIONS, and to the policy."""
import fnmatch
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from opslib import Checks, c_functions, read  # noqa: E402

# The concrete resources of the example policy that operations touch.
QUEUE = 'arn:aws:sqs:us-east-1:111122223333:s3batchd-inbound'
TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/PRELIM_STUDENT_DATA'
TOPIC = 'arn:aws:sns:us-east-1:111122223333:s3batchd-summaries'
INBOUND, ARCHIVE, ERRORS = 'example-inbound', 'example-archive', 'example-errors'
BUCKETS = [f'arn:aws:s3:::{b}' for b in (INBOUND, ARCHIVE, ERRORS)]
IN_OBJ = [f'arn:aws:s3:::{INBOUND}/students/2026.csv']
OUT_OBJ = [f'arn:aws:s3:::{b}/students/2026.csv' for b in (ARCHIVE, ERRORS)]
ALL_OBJ = IN_OBJ + OUT_OBJ

# operation → [(IAM action, [resources])]
OPERATIONS = {
    # S3: reads of inbound files, and HEAD/GET of archive/error copies (a redelivered event
    # whose file is already done); CopyObject copies tags, so it needs the tagging actions
    'GetObject': [('s3:GetObject', ALL_OBJ)],
    'HeadObject': [('s3:GetObject', ALL_OBJ)],
    'PutObject': [('s3:PutObject', OUT_OBJ)],
    'DeleteObject': [('s3:DeleteObject', IN_OBJ)],
    'CopyObject': [('s3:GetObject', IN_OBJ), ('s3:GetObjectTagging', IN_OBJ),
                   ('s3:PutObject', OUT_OBJ), ('s3:PutObjectTagging', OUT_OBJ)],
    # copies over 5 GiB: multipart upload with UploadPartCopy
    'CreateMultipartUpload': [('s3:PutObject', OUT_OBJ), ('s3:PutObjectTagging', OUT_OBJ)],
    'UploadPartCopy': [('s3:PutObject', OUT_OBJ), ('s3:GetObject', IN_OBJ)],
    'UploadPart': [('s3:PutObject', OUT_OBJ)],
    'CompleteMultipartUpload': [('s3:PutObject', OUT_OBJ)],
    'AbortMultipartUpload': [('s3:AbortMultipartUpload', OUT_OBJ)],
    'ListParts': [('s3:ListMultipartUploadParts', OUT_OBJ)],
    'ListObjectsV2': [('s3:ListBucket', BUCKETS)],
    'HeadBucket': [('s3:ListBucket', BUCKETS)],
    # the startup check of each pipeline against the inbound bucket's notification filter
    'GetBucketNotificationConfiguration': [('s3:GetBucketNotification', [f'arn:aws:s3:::{INBOUND}'])],
    # SQS (batch calls are authorized as their single-message action)
    'ReceiveMessage': [('sqs:ReceiveMessage', [QUEUE])],
    'DeleteMessage': [('sqs:DeleteMessage', [QUEUE])],
    'DeleteMessageBatch': [('sqs:DeleteMessage', [QUEUE])],
    'ChangeMessageVisibility': [('sqs:ChangeMessageVisibility', [QUEUE])],
    'ChangeMessageVisibilityBatch': [('sqs:ChangeMessageVisibility', [QUEUE])],
    'GetQueueAttributes': [('sqs:GetQueueAttributes', [QUEUE])],
    'GetQueueUrl': [('sqs:GetQueueUrl', [QUEUE])],
    # DynamoDB
    'BatchWriteItem': [('dynamodb:BatchWriteItem', [TABLE])],
    'DescribeTable': [('dynamodb:DescribeTable', [TABLE])],
    'PutItem': [('dynamodb:PutItem', [TABLE])],
    # SNS
    'Publish': [('sns:Publish', [TOPIC])],
    'GetTopicAttributes': [('sns:GetTopicAttributes', [TOPIC])],
}
# Allowed even where the code here does not make the call (yet): the startup checks of this
# release (HeadBucket on every bucket, the topic's attributes), and ListParts on the copies
# over 5 GiB (issue 10: with AbortMultipartUpload, what it takes to inspect and clean up an
# unfinished multipart copy under the daemon's own role).
REQUIRED_ANYWAY = {'HeadBucket', 'GetTopicAttributes', 'ListParts'}

ck = Checks('iam-policy')


def s3_operation(method, names, bucket_level):
    if method == 'GET':
        if bucket_level and 'notification' in names:
            return 'GetBucketNotificationConfiguration'
        return 'ListObjectsV2' if 'list-type' in names else 'ListParts' if 'uploadId' in names else \
            None if bucket_level else 'GetObject'
    if method == 'HEAD':
        return 'HeadBucket' if bucket_level else 'HeadObject'
    if method == 'PUT':
        if 'partNumber' in names:
            return 'UploadPartCopy' if 'x-amz-copy-source' in names else 'UploadPart'
        return 'CopyObject' if 'x-amz-copy-source' in names else 'PutObject'
    if method == 'POST':
        return 'CreateMultipartUpload' if 'uploads' in names else \
            'CompleteMultipartUpload' if 'uploadId' in names else None
    if method == 'DELETE':
        return 'AbortMultipartUpload' if 'uploadId' in names else 'DeleteObject'
    return None


def operations_in_code():
    ops = {}
    aws_dir = os.path.join(os.path.dirname(__file__), '..', '..', 'common', 'aws')
    s3_files = sorted(f for f in os.listdir(aws_dir) if re.fullmatch(r's3(-[a-z]+)?\.c', f))
    ck.check('s3.c' in s3_files and len(s3_files) > 1, f'S3 files in common/aws: {s3_files}: the scan broke')
    for f in s3_files:
        for name, body in c_functions(read('common', 'aws', f)).items():
            for method in re.findall(r'\.method\s*=\s*"(\w+)"', body):
                names = set(re.findall(r'\{\s*"([A-Za-z-]+)",', body))
                bucket_level = re.search(r's3_send\([^,]+,[^,]+,\s*NULL\s*,', body) is not None
                op = s3_operation(method, names, bucket_level)
                if ck.check(op is not None, f'common/aws/{f}:{name}(): {method} with {sorted(names)} is no S3 '
                            'operation this test knows: add it to s3_operation() and OPERATIONS'):
                    ops[op] = f'{f}:{name}'
    sqs = read('common/aws/sqs.c')
    for op in re.findall(r'(?:sqs_call|sqs_call_no_result|batch_call)\(\s*\w+,\s*\w+,\s*"(\w+)"', sqs):
        ops[op] = 'sqs.c'
    ck.check('"AmazonSQS.%s"' in sqs, 'sqs.c no longer builds X-Amz-Target as AmazonSQS.%s: the scan broke')
    for f in sorted(os.listdir(os.path.join(os.path.dirname(__file__), '..', '..', 'common', 'aws'))):
        if not f.endswith('.c'):
            continue
        text = read('common', 'aws', f)
        for op in re.findall(r'"DynamoDB_20120810\.(\w+)"', text):
            ops[op] = f
        for op in re.findall(r'"Action",\s*"(\w+)"', text):
            ops[op] = f
    for must in ('GetObject', 'CopyObject', 'ReceiveMessage', 'DeleteMessage', 'BatchWriteItem',
                 'DescribeTable', 'Publish', 'ListObjectsV2', 'AbortMultipartUpload'):
        ck.check(must in ops, f'the scan did not find {must} in common/aws: the scan broke')
    return ops


def allowed(policy, action, resource):
    for st in policy['Statement']:
        if st.get('Effect') != 'Allow' or 'Condition' in st:
            continue
        actions = st['Action'] if isinstance(st['Action'], list) else [st['Action']]
        resources = st['Resource'] if isinstance(st['Resource'], list) else [st['Resource']]
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and \
           any(fnmatch.fnmatchcase(resource, r) for r in resources):
            return st.get('Sid', '?')
    return None


def cfn_loader():
    class Loader(yaml.SafeLoader):
        pass
    for tag in ('!Ref', '!GetAtt', '!Sub', '!Join', '!If', '!Equals', '!Not', '!Select', '!Split',
                '!FindInMap', '!ImportValue', '!GetAZs', '!Base64', '!Condition', '!And', '!Or'):
        Loader.add_constructor(tag, lambda loader, node, tag=tag: {
            tag: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
            else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)})
    return Loader


def main():
    policy = json.loads(read('packaging/aws/iam-policy.json'))
    ops = operations_in_code()
    print('operations in common/aws:', ', '.join(sorted(ops)))
    for op in sorted(set(ops) | REQUIRED_ANYWAY):
        if not ck.check(op in OPERATIONS, f'{op} ({ops.get(op)}) has no IAM mapping in this test: add it to '
                        'OPERATIONS (Service Authorization Reference) and allow it in iam-policy.json'):
            continue
        for action, resources in OPERATIONS[op]:
            for r in resources:
                ck.check(allowed(policy, action, r) is not None,
                         f'{op} needs {action} on {r}, which iam-policy.json does not allow')
    # least privilege: every action the policy grants is needed by some operation (the
    # optional KMS statement aside)
    needed = {a for op in set(ops) | REQUIRED_ANYWAY for a, _ in OPERATIONS.get(op, [])}
    for st in policy['Statement']:
        if st['Sid'].startswith('Optional'):
            continue
        for a in st['Action'] if isinstance(st['Action'], list) else [st['Action']]:
            ck.check(a in needed, f'iam-policy.json grants {a} ({st["Sid"]}), which no operation in common/aws needs')
    kms = [st for st in policy['Statement'] if st['Sid'].startswith('Optional')]
    ck.check(kms and {'kms:Decrypt', 'kms:GenerateDataKey'} <= set(kms[0]['Action']),
             'iam-policy.json has no optional KMS statement (kms:Decrypt, kms:GenerateDataKey)')
    # the CloudFormation role grants the same actions, statement by statement
    cfn = yaml.load(read('packaging/aws/cloudformation.yaml'), Loader=cfn_loader())
    role = cfn['Resources']['DaemonRole']['Properties']['Policies'][0]['PolicyDocument']['Statement']
    by_sid = {st['Sid']: st for st in role}
    for st in policy['Statement']:
        if st['Sid'].startswith('Optional'):
            continue
        want = set(st['Action'] if isinstance(st['Action'], list) else [st['Action']])
        got = by_sid.get(st['Sid'], {}).get('Action', [])
        got = set(got if isinstance(got, list) else [got])
        ck.check(want == got, f'cloudformation.yaml DaemonRole statement {st["Sid"]}: {sorted(got)}, '
                 f'iam-policy.json: {sorted(want)}')
    ck.done()


if __name__ == '__main__':
    main()
