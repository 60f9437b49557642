"""Starts, seeds and stops a local AWS world in a directory (see ./world for the CLI).

A world is: fauxqs (S3, SQS, SNS), dynalite (DynamoDB) and the S3 event bridge, each a node
process on 127.0.0.1 on a kernel-chosen port, in its own process group. DIR/world.json records
every endpoint, name and process; DIR/world.env is the same as shell assignments.
Run with /usr/bin/python3 (Debian's boto3).
"""
import copy
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, 'node_modules')
REGION = 'us-east-1'
ACCOUNT = '000000000000'
# Dummy credentials: no local server checks signatures, but every client must sign.
ACCESS_KEY = 'AKIDLOCALWORLD000000'
SECRET_KEY = 'local-world-secret-key-not-a-secret-0000000'

INBOUND_BUCKET = 'inbound-file-drop'
ARCHIVE_BUCKET = 'archival-bucket'
ERROR_BUCKET = 'error-bucket'
QUEUE = 'inbound-file-events'
DLQ = 'inbound-file-events-dlq'
MAX_RECEIVE_COUNT = 5
CAPTURE_QUEUE = 'sns-capture'
TOPIC = 'batch_processing_notification'
TABLE = 'PRELIM_STUDENT_DATA'
# One rule per suffix: S3 refuses overlapping suffixes for the same event and prefix.
NOTIFICATION_RULES = [('csv-to-sqs', '.csv'), ('csv-gz-to-sqs', '.csv.gz')]

START_TIMEOUT = 20.0


class WorldError(Exception):
        pass


def _log(msg):
        print(f'world: {msg}', file=sys.stderr, flush=True)


# --- botocore's SQS model, spoken as JSON 1.0 ----------------------------------------------

def _strip_query_serialization(node):
        """The query model names list/map members for XML; JSON uses the plain member names."""
        if isinstance(node, dict):
                node.pop('locationName', None)
                node.pop('flattened', None)
                node.pop('resultWrapper', None)
                for v in node.values():
                        _strip_query_serialization(v)
        elif isinstance(node, list):
                for v in node:
                        _strip_query_serialization(v)


def write_sqs_json_model(data_dir):
        """Writes DATA_DIR/sqs/<version>/service-2.json: botocore's SQS model as JSON 1.0,
        which is all fauxqs speaks (Debian's botocore 1.29 still uses the query protocol)."""
        from botocore.loaders import Loader
        loader = Loader()
        version = loader.list_api_versions('sqs', 'service-2')[-1]
        model = copy.deepcopy(loader.load_service_model('sqs', 'service-2', version))
        model['metadata'].update(protocol='json', jsonVersion='1.0', targetPrefix='AmazonSQS')
        model['metadata'].pop('protocols', None)
        model['metadata'].pop('xmlNamespace', None)
        _strip_query_serialization(model['shapes'])
        out = os.path.join(data_dir, 'sqs', version)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, 'service-2.json'), 'w') as f:
                json.dump(model, f)
        return data_dir


def client_env(world):
        """Environment for boto3/awscli (and the daemon) talking to this world."""
        return {
                'AWS_ACCESS_KEY_ID': ACCESS_KEY,
                'AWS_SECRET_ACCESS_KEY': SECRET_KEY,
                'AWS_REGION': world['region'],
                'AWS_DEFAULT_REGION': world['region'],
                'AWS_DATA_PATH': world['aws_data_path'],
                'AWS_EC2_METADATA_DISABLED': 'true',
        }


def clients(world):
        """boto3 clients for the world: S3 through the event bridge (path style), SQS with the
        JSON model, SNS and DynamoDB."""
        os.environ['AWS_DATA_PATH'] = world['aws_data_path']
        import boto3
        from botocore.config import Config
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                        aws_secret_access_key=SECRET_KEY,
                                        region_name=world['region'])
        cfg = Config(retries={'max_attempts': 2, 'mode': 'standard'}, connect_timeout=5,
                     read_timeout=30)
        s3cfg = cfg.merge(Config(s3={'addressing_style': 'path'}))
        ep = world['endpoints']
        return {
                's3': session.client('s3', endpoint_url=ep['s3'], config=s3cfg),
                'sqs': session.client('sqs', endpoint_url=ep['sqs'], config=cfg),
                'sns': session.client('sns', endpoint_url=ep['sns'], config=cfg),
                'dynamodb': session.client('dynamodb', endpoint_url=ep['dynamodb'], config=cfg),
        }


# --- processes --------------------------------------------------------------------------

def _proc_starttime(pid):
        """Start time of PID in clock ticks, to tell our process from a reused PID."""
        try:
                with open(f'/proc/{pid}/stat') as f:
                        stat = f.read()
        except OSError:
                return None
        return int(stat[stat.rindex(')') + 2:].split()[19])


def spawn(world_dir, name, argv, env_extra=None, owner_pid=None):
        """Starts ARGV in its own process group with output to DIR/logs/NAME.log."""
        env = dict(os.environ)
        env.update(env_extra or {})
        if owner_pid:
                env['WORLD_OWNER_PID'] = str(owner_pid)
        log = open(os.path.join(world_dir, 'logs', f'{name}.log'), 'ab')
        # The Popen object is kept so that kill_process() can reap the child it belongs to.
        try:
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                     cwd=world_dir)
        finally:
                log.close()
        _children[p.pid] = p
        return {'name': name, 'pid': p.pid, 'starttime': _proc_starttime(p.pid), 'argv': argv}


def spawn_node(world_dir, name, script, script_args=(), env_extra=None, owner_pid=None):
        """Starts a node server through loopback.js; wait_port() tells its port."""
        port_file = os.path.join(world_dir, f'{name}.port')
        if os.path.exists(port_file):
                os.unlink(port_file)
        env = {'WORLD_LISTEN_PORT': '0', 'WORLD_PORT_FILE': port_file,
               'NODE_PATH': NODE_MODULES}
        env.update(env_extra or {})
        argv = ['node', '-r', os.path.join(HERE, 'loopback.js'), script, *script_args]
        return spawn(world_dir, name, argv, env, owner_pid)


def wait_port(world_dir, proc):
        port_file = os.path.join(world_dir, f'{proc["name"]}.port')
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(port_file):
                if not _alive(proc):
                        raise WorldError(f'{proc["name"]} exited at start; '
                                         f'see {world_dir}/logs/{proc["name"]}.log')
                if time.monotonic() > deadline:
                        raise WorldError(f'{proc["name"]} did not listen within {START_TIMEOUT:.0f} s')
                time.sleep(0.02)
        with open(port_file) as f:
                return int(f.read())


def _alive(proc):
        try:
                with open(f'/proc/{proc["pid"]}/stat') as f:
                        stat = f.read()
        except OSError:
                return False
        fields = stat[stat.rindex(')') + 2:].split()
        return fields[0] != 'Z' and int(fields[19]) == proc['starttime']


def kill_process(proc, grace=3.0):
        """SIGTERM to the process group of PROC (then SIGKILL); no-op if it is gone."""
        if not proc.get('starttime') or not _alive(proc):
                return
        try:
                os.killpg(proc['pid'], signal.SIGTERM)
        except ProcessLookupError:
                return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
                _reap(proc['pid'])
                if not _alive(proc):
                        return
                time.sleep(0.02)
        try:
                os.killpg(proc['pid'], signal.SIGKILL)
        except ProcessLookupError:
                pass
        _reap(proc['pid'])


_children = {}


def _reap(pid):
        # Our own children turn into zombies until waited for; others are not ours to wait.
        child = _children.get(pid)
        if child is not None and child.poll() is not None:
                del _children[pid]


def wait_http(url, ok=lambda status: status < 500, timeout=START_TIMEOUT, data=None, headers=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
                try:
                        req = urllib.request.Request(url, data=data, headers=headers or {})
                        with urllib.request.urlopen(req, timeout=2) as r:
                                status = r.status
                except urllib.error.HTTPError as e:
                        status = e.code
                except OSError as e:
                        last = e
                        time.sleep(0.05)
                        continue
                if ok(status):
                        return
                last = f'HTTP {status}'
                time.sleep(0.05)
        raise WorldError(f'{url} did not answer in time: {last}')


# --- world.json / world.env --------------------------------------------------------------

def load(world_dir):
        with open(os.path.join(world_dir, 'world.json')) as f:
                return json.load(f)


def save(world):
        d = world['dir']
        tmp = os.path.join(d, 'world.json.tmp')
        with open(tmp, 'w') as f:
                json.dump(world, f, indent=2, sort_keys=True)
                f.write('\n')
        os.replace(tmp, os.path.join(d, 'world.json'))
        env = dict(client_env(world))
        env.update({'WORLD_DIR': d, 'WORLD_REGION': world['region']})
        for name, url in world.get('endpoints', {}).items():
                env[f'WORLD_{name.upper()}_ENDPOINT'] = url
        # The standard per-service endpoint variables (the daemon and newer AWS CLIs read them).
        for svc in ('s3', 'sqs', 'sns', 'dynamodb'):
                if svc in world.get('endpoints', {}):
                        env[f'AWS_ENDPOINT_URL_{svc.upper()}'] = world['endpoints'][svc]
        for role, bucket in world['buckets'].items():
                env[f'WORLD_{role.upper()}_BUCKET'] = bucket
        for role, q in world.get('queues', {}).items():
                env[f'WORLD_{role.upper()}_QUEUE_URL'] = q['url']
                env[f'WORLD_{role.upper()}_QUEUE_ARN'] = q['arn']
        if 'topic_arn' in world:
                env['WORLD_TOPIC_ARN'] = world['topic_arn']
        env['WORLD_TABLE'] = world['table']
        for proc in world['processes']:
                env[f'WORLD_PID_{proc["name"].upper().replace("-", "_")}'] = str(proc['pid'])
        tmp = os.path.join(d, 'world.env.tmp')
        with open(tmp, 'w') as f:
                for k in sorted(env):
                        f.write(f'{k}={shlex.quote(env[k])}\n')
        os.replace(tmp, os.path.join(d, 'world.env'))


# --- seeding ---------------------------------------------------------------------------

def _seed(world):
        c = clients(world)
        try:
                _seed_with(world, **c)
        finally:
                for client in c.values():
                        client.close()


def _seed_with(world, s3, sqs, sns, dynamodb):
        ddb = dynamodb
        for b in world['buckets'].values():
                s3.create_bucket(Bucket=b)

        def queue(name, attributes=None):
                url = sqs.create_queue(QueueName=name, Attributes=attributes or {})['QueueUrl']
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])
                return {'name': name, 'url': url, 'arn': arn['Attributes']['QueueArn']}

        dlq = queue(DLQ)
        redrive = json.dumps({'deadLetterTargetArn': dlq['arn'],
                              'maxReceiveCount': str(world.get('redrive_max_receive_count',
                                                               MAX_RECEIVE_COUNT))})
        inbound = queue(QUEUE, {'RedrivePolicy': redrive})
        capture = queue(CAPTURE_QUEUE)
        world['queues'] = {'inbound': inbound, 'dlq': dlq, 'sns_capture': capture}

        s3.put_bucket_notification_configuration(
                Bucket=world['buckets']['inbound'],
                NotificationConfiguration={'QueueConfigurations': [
                        {'Id': rule_id, 'QueueArn': inbound['arn'],
                         'Events': ['s3:ObjectCreated:*'],
                         'Filter': {'Key': {'FilterRules': [{'Name': 'suffix', 'Value': suffix}]}}}
                        for rule_id, suffix in NOTIFICATION_RULES]})
        # S3 answers a new configuration with s3:TestEvent; consume it so that every world
        # starts with an empty queue (and the bridge is proven to deliver).
        got = sqs.receive_message(QueueUrl=inbound['url'], WaitTimeSeconds=5,
                                  MaxNumberOfMessages=1).get('Messages', [])
        if not got or json.loads(got[0]['Body']).get('Event') != 's3:TestEvent':
                raise WorldError(f'expected s3:TestEvent on {QUEUE}, got {got!r}')
        sqs.delete_message(QueueUrl=inbound['url'], ReceiptHandle=got[0]['ReceiptHandle'])

        ddb.create_table(TableName=world['table'], BillingMode='PAY_PER_REQUEST',
                         AttributeDefinitions=[
                                 {'AttributeName': 'student_id', 'AttributeType': 'S'},
                                 {'AttributeName': 'course', 'AttributeType': 'S'}],
                         KeySchema=[
                                 {'AttributeName': 'student_id', 'KeyType': 'HASH'},
                                 {'AttributeName': 'course', 'KeyType': 'RANGE'}])
        ddb.get_waiter('table_exists').wait(TableName=world['table'],
                                            WaiterConfig={'Delay': 0.1, 'MaxAttempts': 50})

        topic = sns.create_topic(Name=TOPIC)['TopicArn']
        sub = sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=capture['arn'],
                            Attributes={'RawMessageDelivery': 'false'},
                            ReturnSubscriptionArn=True)
        world['topic_arn'] = topic
        world['subscription_arn'] = sub['SubscriptionArn']


def start(world_dir, owner_pid=None, redrive_max_receive_count=MAX_RECEIVE_COUNT):
        """Starts and seeds a world in WORLD_DIR; returns its description (also world.json).
        REDRIVE_MAX_RECEIVE_COUNT: the inbound queue's maxReceiveCount to its DLQ."""
        world_dir = os.path.abspath(world_dir)
        os.makedirs(os.path.join(world_dir, 'logs'), exist_ok=True)
        if os.path.exists(os.path.join(world_dir, 'world.json')):
                old = load(world_dir)
                if any(_alive(p) for p in old['processes']):
                        raise WorldError(f'a world is already running in {world_dir}')
        if not os.path.isdir(os.path.join(NODE_MODULES, 'fauxqs')):
                raise WorldError(f'{NODE_MODULES} is missing: run scripts/deps')
        world = {
                'dir': world_dir,
                'region': REGION,
                'account': ACCOUNT,
                'access_key_id': ACCESS_KEY,
                'secret_access_key': SECRET_KEY,
                'aws_data_path': os.path.join(world_dir, 'aws-data'),
                'buckets': {'inbound': INBOUND_BUCKET, 'archive': ARCHIVE_BUCKET,
                            'error': ERROR_BUCKET},
                'table': TABLE,
                'processes': [],
                'owner_pid': owner_pid,
                'redrive_max_receive_count': redrive_max_receive_count,
        }
        t0 = time.monotonic()
        try:
                # fauxqs and dynalite start side by side; the bridge needs fauxqs's port.
                fq = spawn_node(world_dir, 'fauxqs', os.path.join(HERE, 'fauxqs-server.mjs'),
                                env_extra={'FAUXQS_DEFAULT_REGION': REGION}, owner_pid=owner_pid)
                world['processes'].append(fq)
                ddb = spawn_node(world_dir, 'dynalite',
                                 os.path.join(NODE_MODULES, 'dynalite', 'cli.js'),
                                 ['--host', '127.0.0.1', '--createTableMs', '0',
                                  '--deleteTableMs', '0', '--updateTableMs', '0'],
                                 owner_pid=owner_pid)
                world['processes'].append(ddb)
                # botocore loads while node starts.
                write_sqs_json_model(world['aws_data_path'])
                fq_port = wait_port(world_dir, fq)
                fauxqs = f'http://127.0.0.1:{fq_port}'
                br = spawn_node(world_dir, 's3-event-bridge', os.path.join(HERE, 's3-event-bridge.js'),
                                ['--upstream', fauxqs, '--sqs', fauxqs, '--region', REGION],
                                owner_pid=owner_pid)
                world['processes'].append(br)
                ddb_port = wait_port(world_dir, ddb)
                br_port = wait_port(world_dir, br)
                world['ports'] = {'fauxqs': fq_port, 'dynalite': ddb_port, 's3_bridge': br_port}
                world['endpoints'] = {
                        'fauxqs': fauxqs,
                        's3': f'http://127.0.0.1:{br_port}',
                        'sqs': fauxqs,
                        'sns': fauxqs,
                        'dynamodb': f'http://127.0.0.1:{ddb_port}',
                }
                save(world)
                wait_http(f'{fauxqs}/health', ok=lambda s: s == 200)
                wait_http(f'http://127.0.0.1:{br_port}/health', ok=lambda s: s == 200)
                # dynalite answers every request; a 400 for an unsigned one means it is up.
                wait_http(f'http://127.0.0.1:{ddb_port}/', ok=lambda s: s in (200, 400), data=b'{}',
                          headers={'Content-Type': 'application/x-amz-json-1.0',
                                   'X-Amz-Target': 'DynamoDB_20120810.ListTables'})
                _seed(world)
                world['start_seconds'] = round(time.monotonic() - t0, 3)
                save(world)
        except BaseException:
                for proc in reversed(world['processes']):
                        kill_process(proc)
                raise
        return world


def register(world_dir, proc):
        """Adds a process started beside the world (fault proxy, daemon) so stop() ends it."""
        world = load(world_dir)
        world['processes'].append(proc)
        save(world)


def start_fault_proxy(world_dir, target_url, name=None):
        """Starts tests/world/fault-proxy.js in front of TARGET_URL as part of the world.
        Returns {'name', 'proxy': url, 'control': url, 'pid'}."""
        world = load(world_dir)
        n = sum(p['name'].startswith('fault-proxy') for p in world['processes'])
        name = name or f'fault-proxy-{n + 1}'
        ports_file = os.path.join(world_dir, f'{name}.ports')
        if os.path.exists(ports_file):
                os.unlink(ports_file)
        argv = ['node', '-r', os.path.join(HERE, 'loopback.js'), os.path.join(HERE, 'fault-proxy.js'),
                '--target', target_url, '--ports-file', ports_file]
        proc = spawn(world_dir, name, argv, owner_pid=world.get('owner_pid'))
        register(world_dir, proc)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(ports_file):
                if not _alive(proc):
                        raise WorldError(f'{name} exited at start; see {world_dir}/logs/{name}.log')
                if time.monotonic() > deadline:
                        raise WorldError(f'{name} did not listen within {START_TIMEOUT:.0f} s')
                time.sleep(0.02)
        with open(ports_file) as f:
                ports = json.load(f)
        return {'name': name, 'pid': proc['pid'],
                'proxy': f'http://127.0.0.1:{ports["proxy"]}',
                'control': f'http://127.0.0.1:{ports["control"]}'}


def stop(world_dir):
        """Ends every process the world started; idempotent."""
        path = os.path.join(world_dir, 'world.json')
        if not os.path.exists(path):
                return
        world = load(world_dir)
        for proc in reversed(world['processes']):
                kill_process(proc)


def main(argv):
        usage = ('usage: world start DIR [--owner-pid PID]   start and seed a world in DIR\n'
                 '       world stop DIR                      stop every process of that world\n'
                 '       world status DIR                    show its processes')
        if len(argv) < 2 or argv[0] not in ('start', 'stop', 'status'):
                print(usage, file=sys.stderr)
                return 2
        cmd, world_dir = argv[0], os.path.abspath(argv[1])
        if cmd == 'start':
                owner = None
                if argv[2:4] and argv[2] == '--owner-pid':
                        owner = int(argv[3])
                elif argv[2:]:
                        print(usage, file=sys.stderr)
                        return 2
                try:
                        world = start(world_dir, owner)
                except WorldError as e:
                        _log(f'start failed: {e}')
                        return 1
                _log(f'started in {world["start_seconds"]:.2f} s: S3 {world["endpoints"]["s3"]}, '
                     f'SQS/SNS {world["endpoints"]["sqs"]}, DynamoDB {world["endpoints"]["dynamodb"]}'
                     f' ({world_dir}/world.env)')
                return 0
        if cmd == 'stop':
                stop(world_dir)
                return 0
        world = load(world_dir)
        alive = 0
        for proc in world['processes']:
                state = 'running' if _alive(proc) else 'stopped'
                alive += state == 'running'
                print(f'{proc["name"]:<16} pid {proc["pid"]:<8} {state}')
        return 0 if alive else 3
