#!/usr/bin/python3
"""packaging/prometheus/s3batchd.rules.yml passes `promtool check rules`, and every s3batchd
metric, label and label value that the rules and packaging/grafana/s3batchd.json use is one
daemon/metrics.c writes (names from its header() calls, labels from its sample() calls,
values from its name tables), so a renamed metric cannot leave a dashboard or alert silently
empty."""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from opslib import Checks, path, read  # noqa: E402

ck = Checks('observability')
PROM_LABELS = {'instance', 'job', 'le'}          # added by Prometheus / histograms
FOREIGN = {'node_textfile_mtime_seconds'}        # node_exporter's, not the daemon's


def metrics_c():
    text = read('daemon/metrics.c')
    types = dict((n, t) for n, t in re.findall(r'header\(out,\s*"(\w+)",\s*"(\w+)"', text))
    labels = {n: set() for n in types}
    for name, l1, l2 in re.findall(r'sample\(out,\s*"(\w+)",\s*"(\w+)",\s*[^,]+,\s*(NULL|"\w+")', text):
        labels[name] |= {l1} | ({l2.strip('"')} if l2 != 'NULL' else set())
    values = set()
    for table in re.findall(r'(?:_names|row_results)\[[^\]]*\]\s*=\s*\{(.*?)\};', text, re.S):
        values |= set(re.findall(r'"(\w+)"', table))
    names = {}
    for n, t in types.items():
        full = 's3batchd_' + n
        names[full] = labels[n]
        if t == 'histogram':
            names[full + '_bucket'] = labels[n] | {'le'}
            names[full + '_sum'] = names[full + '_count'] = labels[n]
    ck.check(len(names) >= 10 and values, f'metrics.c scan found only {sorted(names)}: the scan broke')
    return names, values


def check_expr(where, expr, names, values):
    used = re.findall(r'\b((?:s3batchd|node)_\w+)\b(\{[^}]*\})?', expr)
    for name, matchers in used:
        if name in FOREIGN:
            continue
        if not ck.check(name in names, f'{where}: {name} is not a metric daemon/metrics.c writes'):
            continue
        for label, op, value in re.findall(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"', matchers):
            ck.check(label in names[name] | PROM_LABELS, f'{where}: {name} has no label {label}')
            if op == '=' and label in ('outcome', 'result'):
                ck.check(value in values, f'{where}: {label}="{value}" is never written by metrics.c')
    for grouping in re.findall(r'\bby\s*\(([^)]*)\)', expr):
        for label in (x.strip() for x in grouping.split(',')):
            ck.check(any(label in ls for n, ls in names.items() if n in expr) or label in PROM_LABELS,
                     f'{where}: grouping by {label}, a label no metric of the expression has')
    return len(used)


def main():
    names, values = metrics_c()
    rules_path = path('packaging/prometheus/s3batchd.rules.yml')
    promtool = shutil.which('promtool')
    if ck.check(promtool is not None, 'promtool not found: install Debian\'s prometheus package (scripts/deps)'):
        r = subprocess.run([promtool, 'check', 'rules', rules_path], capture_output=True, text=True)
        ck.check(r.returncode == 0, 'promtool check rules: ' + r.stdout + r.stderr)
    rules = yaml.safe_load(read('packaging/prometheus/s3batchd.rules.yml'))
    alerts = [r for g in rules['groups'] for r in g['rules']]
    for want in ('S3batchdMetricsStale', 'S3batchdDown', 'S3batchdFilesFailing', 'S3batchdThrottled',
                 'S3batchdPoisonMessages'):
        ck.check(any(a.get('alert') == want for a in alerts), f'rules: no alert {want}')
    n = 0
    for a in alerts:
        n += check_expr('rules ' + a.get('alert', '?'), a['expr'], names, values)
    dash = json.loads(read('packaging/grafana/s3batchd.json'))
    titles = [p['title'] for p in dash['panels']]
    for want in ('outcome', 'Rows', 'Rejected', 'retries', 'throttling', 'in flight', 'duration', 'Queue lag'):
        ck.check(any(want.lower() in t.lower() for t in titles), f'dashboard: no panel about {want}')
    for p in dash['panels']:
        for t in p.get('targets', []):
            if 'expr' in t:
                n += check_expr(f'dashboard "{p["title"]}"', t['expr'], names, values)
    ck.check(n >= 15, f'only {n} metric references found in the rules and the dashboard: the scan broke')
    ck.done()


if __name__ == '__main__':
    main()
