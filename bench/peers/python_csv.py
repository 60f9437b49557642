#!/usr/bin/python3
"""The Python peer of csvbench: the same work with the tools a Python loader would use —
the csv module to parse, the reference pipeline's rules (conf/s3batchd.yaml, students) to
validate, boto3's TypeSerializer to marshal each row into DynamoDB AttributeValues. Streams
the file like csvbench does. Prints the same figures line:
    impl bytes rows valid rejected seconds MB/s rows/s peak_rss_kb
Run it with Debian's /usr/bin/python3 (it has boto3)."""
import csv
import os
import re
import sys
import time

from boto3.dynamodb.types import TypeSerializer

# The reference pipeline, as in conf/s3batchd.yaml.
COLUMNS = [
        # name, required, pattern, max_length (bytes)
        ('student_id', True, re.compile(r'^A[0-9]{5}$'), None),
        ('first_name', True, None, 64),
        ('last_name', True, None, None),
        ('course', True, None, None),
]
NULLS = {'', 'NULL'}
KEY = ('student_id', 'course')
ITEM_MAX = 400 * 1024


def main(path):
        ser = TypeSerializer()
        rows = valid = rejected = 0
        names = [c[0] for c in COLUMNS]
        name_sizes = {n: len(n.encode()) for n in names}
        t0 = time.monotonic()
        with open(path, newline='', encoding='utf-8-sig') as f:
                reader = csv.reader(f)
                header = next(reader)
                lower = [h.lower() for h in header]
                if sorted(lower) != sorted(names):
                        raise SystemExit('header does not match')
                # CSV position -> column rule, case-insensitive like the daemon
                rules = [COLUMNS[names.index(h)] for h in lower]
                width = len(rules)
                for row in reader:
                        if not row:
                                continue        # empty line
                        rows += 1
                        if len(row) != width:
                                rejected += 1
                                continue
                        item = {}
                        size = 0
                        ok = True
                        for (name, required, pattern, max_length), v in zip(rules, row):
                                if v in NULLS:
                                        if required or name in KEY:
                                                ok = False
                                                break
                                        continue
                                b = v.encode('utf-8')
                                if max_length is not None and len(b) > max_length:
                                        ok = False
                                        break
                                if pattern is not None and not pattern.search(v):
                                        ok = False
                                        break
                                item[name] = ser.serialize(v)
                                size += name_sizes[name] + len(b)
                        if not ok or size > ITEM_MAX:
                                rejected += 1
                                continue
                        key = tuple(item[k]['S'] for k in KEY)
                        if not all(key):
                                rejected += 1
                                continue
                        valid += 1
        report(path, rows, valid, rejected, t0)


def report(path, rows, valid, rejected, t0):
        """The one result line bench/run reads; shared with the other python peers."""
        t = time.monotonic() - t0
        size = os.path.getsize(path)
        # VmHWM, not ru_maxrss: Linux carries the parent's peak over fork and exec
        rss = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))
        print('python %d %d %d %d %.3f %.1f %.0f %d' % (size, rows, valid, rejected, t, size / 1e6 / t, rows / t, rss))


if __name__ == '__main__':
        main(sys.argv[1])
