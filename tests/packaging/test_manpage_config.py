#!/usr/bin/python3
"""s3batchd.yaml(5) against the configuration loader, and s3batchd(8) against the code.

The loader's keys come from two places, which must agree with each other and with the page:
  - the known-key tables (`keys[]`) of conf/config.c and conf/pipeline.c, the same tables
    that reject unknown keys, mapped to their section by the function they are in;
  - `s3batchd check-config --dump` of a configuration that sets every optional key, which
    prints each key the loader stored, defaults filled in.
Checked: every loader key is documented and every documented key is one the loader knows;
each entry has a Type; each integer's range in the page is the loader's (get_unsigned/get_u64
bounds); each default the dump shows for a minimal configuration is the page's Default.
s3batchd(8): an ENVIRONMENT section naming every AWS_* variable common/aws reads, no
`pattern` among the match keys, a note that --check-config works offline."""
import os
import re
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from opslib import BIN, Checks, c_defines, c_functions, c_int, read  # noqa: E402

# Which section a loader function's key table belongs to. A new function with a keys table
# fails the test until it is added here (and its keys to the page).
SECTION_OF = {
    'load_root': [''],
    'load_aws': ['aws'],
    'load_endpoints': ['aws.endpoints'],
    'load_queue': ['queue'],
    'load_location': ['archive', 'errors'],
    'load_notify': ['notify'],
    'load_pipeline': ['pipelines[]'],
    'load_match': ['pipelines[].match'],
    'load_csv': ['pipelines[].csv'],
    'load_column': ['pipelines[].columns[]'],
    'load_key': ['pipelines[].key'],
    'load_ordering': ['pipelines[].ordering'],
    'load_order_group': ['pipelines[].ordering.group'],
    'load_one_computed': ['pipelines[].computed[]'],
    'load_ttl': ['pipelines[].computed[].ttl'],
    'load_write_capacity': ['pipelines[].write_capacity'],
}
# Keys another branch adds to the loader and documented here already: allowed to be missing
# from the loader until it lands; empty when every branch is in.
PENDING = set()

# A configuration that sets every optional key, so --dump prints all of them.
FULL = """
aws:
  region: eu-west-1
  profile: p
  endpoints: {sqs: "http://127.0.0.1:1", s3: "http://127.0.0.1:2", dynamodb: "http://127.0.0.1:3", sns: "http://127.0.0.1:4"}
  s3_force_path_style: true
  max_attempts: 4
  max_attempts_batch: 11
  connect_timeout_ms: 3001
  request_timeout_ms: 30001
  ca_bundle: /etc/ssl/certs/ca-certificates.crt
queue:
  url: https://sqs.eu-west-1.amazonaws.com/111122223333/q
  wait_seconds: 19
  max_messages: 9
  visibility_timeout: 301
  max_receive_count: 6
workers: 3
shutdown_grace: 61
log_level: debug
metrics_file: /var/lib/prometheus/node-exporter/s3batchd.prom
archive: {bucket: example-archive, prefix: "a/"}
errors: {bucket: example-errors, prefix: "e/"}
notify: {topic_arn: "arn:aws:sns:eu-west-1:111122223333:t", on: [failure]}
pipelines:
  - name: p
    match: {bucket: example-inbound, prefix: "in/", suffix: .csv}
    table: T_1
    format: jsonl
    csv: {delimiter: ";", header: required, header_match: loose, null_values: ["x"], compression: gzip, max_row_bytes: 2048, max_field_bytes: 1024}
    columns:
      - {name: id, type: string, required: true, pattern: "^a$", max_length: 5}
      - {name: k, type: enum, required: true, values: [a, b]}
      - {name: n, type: number, min: 1, max: 2, default: "1.5", omit_if_null: false}
      - {name: Tag Set, attribute: tags, type: string_set, separator: ";"}
      - {name: d, type: date}
    computed:
      - {attribute: src, from: source_key}
      - {attribute: tenant, constant: acme}
      - {attribute: exp, ttl: {from: d, add_days: 3}}
    key: {partition: id, sort: k}
    max_rejected_rows: 3
    write_mode: validate_first
    ordering: {mode: per_prefix, group: {regex: "^in/([^/]+)/"}, window: 7}
    write_capacity: {units_per_second: 100, instances: 2}
    write_concurrency: 8
    split_bytes: 1073741824
    split_workers: 8
"""
MINIMAL = """
queue: {url: "https://sqs.eu-west-1.amazonaws.com/111122223333/q"}
archive: {bucket: example-archive}
errors: {bucket: example-errors}
notify: {topic_arn: "arn:aws:sns:eu-west-1:111122223333:t"}
pipelines:
  - name: p
    match: {bucket: example-inbound}
    table: T_1
    columns: [{name: id, required: true}]
    key: {partition: id}
"""

ck = Checks('manpage-config')


def join(section, key):
    return f'{section}.{key}' if section else key


def source_keys():
    """{path: (function, file)} from the keys[] tables, plus integer bounds {path: (min, max)}."""
    keys, bounds = {}, {}
    for f in ('conf/config.c', 'conf/pipeline.c'):
        text = read(f)
        defines = c_defines(text)
        for func, body in c_functions(text).items():
            # integer bounds, wherever they are read: the path argument is a literal
            # ("aws", "" for the top level) or the section of the function
            for g in re.finditer(r'get_(?:unsigned|u64)\(ld,\s*\w+,\s*([^,]+),\s*"(\w+)",\s*([^,]+),\s*([^,]+),', body):
                lit = re.fullmatch(r'"([^"]*)"', g.group(1).strip())
                for section in [lit.group(1)] if lit else SECTION_OF.get(func, []):
                    bounds[join(section, g.group(2))] = (c_int(g.group(3), defines), c_int(g.group(4), defines))
            m = re.search(r'keys\[\]\s*=\s*\{(.*?)\};', body, re.S)
            if not m:
                continue
            if not ck.check(func in SECTION_OF, f'{f}: {func}() has a keys[] table this test does not know: '
                            'add its section to SECTION_OF and its keys to s3batchd.yaml(5)'):
                continue
            for section in SECTION_OF[func]:
                for key in re.findall(r'"([^"]+)"', m.group(1)):
                    keys[join(section, key)] = f'{f}:{func}'
    for func in SECTION_OF:
        ck.check(any(v.endswith(':' + func) for v in keys.values()),
                 f'no keys[] table found in {func}(): the parsing of the loader broke, or the function moved')
    return keys, bounds


def flatten(node, prefix, out):
    if isinstance(node, dict):
        for k, v in node.items():
            p = join(prefix, k)
            out[p] = v
            flatten(v, p, out)
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for item in node:
            flatten(item, prefix + '[]', out)


def dump(config_text):
    with tempfile.NamedTemporaryFile('w', suffix='.yaml') as f:
        f.write(config_text)
        f.flush()
        r = subprocess.run([BIN, '--config', f.name, 'check-config', '--dump'],
                           capture_output=True, text=True, timeout=60)
    if not ck.check(r.returncode == 0, f'check-config --dump failed: {r.stderr.strip()}'):
        return {}
    out = {}
    # BaseLoader: every scalar a string, and `on` stays a key (YAML 1.1 would make it True)
    flatten(yaml.load(r.stdout, Loader=yaml.BaseLoader), '', out)
    return out


def page_entries():
    """{key: entry text} from the scdoc source: a line `*KEY*` starts an entry, its indented
    lines follow."""
    text = read('packaging/man/s3batchd.yaml.5.scd')
    entries, cur = {}, None
    for line in text.splitlines():
        m = re.fullmatch(r'\*([a-z0-9_.\[\]]+)\*', line)
        if m:
            cur = m.group(1)
            ck.check(cur not in entries, f's3batchd.yaml(5): {cur} is documented twice')
            entries[cur] = ''
        elif cur and (line.startswith('\t') or not line.strip()):
            entries[cur] += line.strip() + '\n'
        else:
            cur = None
    return entries


def check_yaml_page(keys, bounds, entries):
    for k, where in sorted(keys.items()):
        ck.check(k in entries, f'{k} ({where}) is a key the loader knows, but s3batchd.yaml(5) does not document it')
    for k in sorted(entries):
        ck.check(k in keys or k in PENDING,
                 f'{k} is documented in s3batchd.yaml(5), but the loader does not know it')
        ck.check('Type:' in entries[k], f's3batchd.yaml(5): {k} has no "Type:"')
    ck.check(len(bounds) >= 12, f'found only {len(bounds)} integer bounds in the loader: the scan broke')
    for k, (lo, hi) in sorted(bounds.items()):
        want = f'{lo} or more' if hi is None else f'{lo} to {hi}'
        ck.check(want in ' '.join(entries.get(k, '').split()),
                 f's3batchd.yaml(5): {k} should give the range "{want}" (the loader\'s bounds)')


def check_dumps(keys, entries):
    full = dump(FULL)
    for k in sorted(full):
        ck.check(k in keys, f'--dump prints {k}, which no keys[] table names (the test\'s parsing is off)')
        ck.check(k in entries, f'--dump prints {k}, which s3batchd.yaml(5) does not document')
    minimal = dump(MINIMAL)
    given = {}
    flatten(yaml.load(MINIMAL, Loader=yaml.BaseLoader), '', given)
    for k, v in sorted(minimal.items()):
        e = ' '.join(entries.get(k, '').split())
        if k in given or isinstance(v, (dict, list)) or 'Required' in e.split('Default:')[0]:
            continue
        m = re.search(r'Default: (.*?)(?:\. |\.$|$)', e)
        if not ck.check(m is not None, f's3batchd.yaml(5): {k} has no "Default:" (the loader uses {v!r})'):
            continue
        d = m.group(1)
        shown = v
        ok = (shown == '' and '""' in d) or (shown != '' and re.search(r'(?<![\w.])' + re.escape(shown) + r'(?![\w])', d))
        # a default stated as another key ("Default: *max_row_bytes*") is that key's value
        ok = ok or any(f'*{other.split(".")[-1]}*' in d and minimal.get(other) == v for other in minimal)
        ck.check(ok, f's3batchd.yaml(5): {k} says "Default: {d}", the loader uses {v!r}')


def check_man8():
    text = read('packaging/man/s3batchd.8.in')
    sections = dict(re.findall(r'^\.SH (\S+)\n(.*?)(?=^\.SH |\Z)', text, re.M | re.S))
    env = sections.get('ENVIRONMENT', '')
    ck.check(env != '', 's3batchd(8) has no ENVIRONMENT section')
    used = set()
    for root, _, files in os.walk(os.path.join(os.path.dirname(__file__), '..', '..', 'common', 'aws')):
        for f in files:
            if f.endswith('.c'):
                with open(os.path.join(root, f)) as fh:
                    used |= set(re.findall(r'"(AWS_[A-Z0-9_]+)"', fh.read()))
    ck.check(len(used) >= 10, f'found only {sorted(used)} AWS_* variables in common/aws: the scan broke')
    flat = env.replace('\\', '')
    for v in sorted(used):
        ck.check(v in flat, f's3batchd(8) ENVIRONMENT does not mention {v}, which common/aws reads')
    for v in ('HTTPS_PROXY', 'NO_PROXY', '/etc/default/s3batchd', '/var/lib/s3batchd/.aws'):
        ck.check(v in flat, f's3batchd(8) ENVIRONMENT does not mention {v}')
    conf = sections.get('CONFIGURATION', '')
    ck.check(not re.search(r'prefix, suffix or pattern|\bpattern\)', conf),
             's3batchd(8) still lists `pattern` as a match key (the loader rejects it)')
    ck.check(re.search(r'offline|no AWS call|without AWS', sections.get('COMMANDS', '')) is not None,
             's3batchd(8) does not say that --check-config works offline')
    ck.check('s3batchd.yaml (5)' in text or 's3batchd.yaml (5)' in text.replace('\\', ''),
             's3batchd(8) does not refer to s3batchd.yaml(5)')


def main():
    keys, bounds = source_keys()
    entries = page_entries()
    ck.check(len(entries) >= 50, f'only {len(entries)} entries parsed from s3batchd.yaml(5)')
    check_yaml_page(keys, bounds, entries)
    check_dumps(keys, entries)
    check_man8()
    ck.done()


if __name__ == '__main__':
    main()
