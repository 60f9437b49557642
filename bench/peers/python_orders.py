#!/usr/bin/python3
"""The Python peer of `s3batchd validate` on bench/orders.yaml's pipeline: the csv module, the
same rules (required, nulls, patterns, max_length in bytes, integer/number with bounds, the
boolean words, ISO 8601 dates, enum) and boto3's TypeSerializer for every attribute (numbers
as Decimal, as it requires). Prints the figures line of bench/peers/python_csv.py:
    impl bytes rows valid rejected seconds MB/s rows/s peak_rss_kb
Run it with Debian's /usr/bin/python3 (it has boto3). With --wide, bench/orders-wide.yaml's
twenty columns."""
import csv
import datetime
import decimal
import re
import sys
import time

from boto3.dynamodb.types import TypeSerializer

from python_csv import report   # the same result line as the students peer

NULLS = {'', 'NULL'}
BOOLS = {'true': True, 'false': False, '1': True, '0': False, 'yes': True, 'no': False}
INTEGER = re.compile(r'[+-]?[0-9]+')
NUMBER = re.compile(r'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')
DATE = re.compile(r'([0-9]{4})-([0-9]{2})-([0-9]{2})'
                  r'(T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?')


def integer(lo, hi):
        def check(v):
                if not INTEGER.fullmatch(v):
                        return None
                d = decimal.Decimal(v)
                return d if lo <= d <= hi else None
        return check


def number(lo, hi=None):
        def check(v):
                if not NUMBER.fullmatch(v):
                        return None
                d = decimal.Decimal(v)
                return d if d >= lo and (hi is None or d <= hi) else None
        return check


def boolean(v):
        return BOOLS.get(v.lower())


def date(v):
        m = DATE.fullmatch(v)
        if not m:
                return None
        try:
                datetime.date(int(m[1]), int(m[2]), int(m[3]))
                if m[4] and (int(m[5]) > 23 or int(m[6]) > 59 or int(m[7]) > 60):
                        return None
        except ValueError:
                return None
        return v


def string(max_length=None, pattern=None):
        rx = re.compile(pattern) if pattern else None

        def check(v):
                if max_length is not None and len(v.encode('utf-8')) > max_length:
                        return None
                if rx and not rx.search(v):
                        return None
                return v
        return check


def enum(values):
        return lambda v: v if v in values else None


# name, required, check (value as DynamoDB gets it, or None when the rule rejects it)
COLUMNS = [
        ('order_id', True, string(pattern=r'^O[0-9]{8}$')),
        ('line', True, integer(1, 999)),
        ('customer', True, string(max_length=128)),
        ('email', True, string(pattern=r'^[^@ ]+@[^@ ]+\.[a-z]+$')),
        ('amount', True, number(0)),
        ('quantity', True, integer(0, 1000)),
        ('paid', True, boolean),
        ('created', True, date),
        ('status', True, enum({'new', 'paid', 'shipped', 'cancelled'})),
        ('notes', False, string(max_length=2000)),
]
# bench/orders-wide.yaml's ten more (bench/gen-orders.py --wide)
WIDE = [
        ('sku', True, string(pattern=r'^SKU-[0-9]{6}$')),
        ('weight_kg', True, number(0)),
        ('width_cm', True, integer(1, 1000)),
        ('height_cm', True, integer(1, 1000)),
        ('fragile', True, boolean),
        ('ship_by', True, date),
        ('warehouse', True, enum({'north', 'south', 'east', 'west', 'central'})),
        ('country', True, string(pattern=r'^[A-Z]{2}$')),
        ('discount', False, number(0, 1)),
        ('priority', False, integer(1, 5)),
]
KEY = ('order_id', 'line')


def main(path, columns):
        ser = TypeSerializer()
        rows = valid = rejected = 0
        names = [c[0] for c in columns]
        t0 = time.monotonic()
        with open(path, newline='', encoding='utf-8-sig') as f:
                reader = csv.reader(f)
                header = [h.lower() for h in next(reader)]
                if sorted(header) != sorted(names):
                        raise SystemExit('header does not match')
                rules = [columns[names.index(h)] for h in header]
                width = len(rules)
                for row in reader:
                        if not row:
                                continue
                        rows += 1
                        if len(row) != width:
                                rejected += 1
                                continue
                        item = {}
                        ok = True
                        for (name, required, check), v in zip(rules, row):
                                if v in NULLS:
                                        if required or name in KEY:
                                                ok = False
                                                break
                                        continue
                                x = check(v)
                                if x is None:
                                        ok = False
                                        break
                                item[name] = ser.serialize(x)
                        if not ok:
                                rejected += 1
                                continue
                        valid += 1
        report(path, rows, valid, rejected, t0)


if __name__ == '__main__':
        main(sys.argv[1], COLUMNS + WIDE if '--wide' in sys.argv[2:] else COLUMNS)
