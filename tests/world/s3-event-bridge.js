#!/usr/bin/env node
// S3 event bridge: the S3 endpoint clients use in the local world.
//
// fauxqs accepts PutBucketNotificationConfiguration and ignores it, so nothing ever reaches
// the queue. This reverse proxy forwards every request to fauxqs unchanged (bodies streamed,
// headers kept, path-style and virtual-host style) and adds what real S3 does on top:
//   - PUT/GET ?notification are answered here (queue configurations with prefix/suffix
//     filters); setting one sends s3:TestEvent to each destination queue.
//   - after a 2xx PutObject, CopyObject or CompleteMultipartUpload into a configured bucket it
//     sends the standard S3 event record to the queue with SQS SendMessage (JSON 1.0).
//   - the S3 conditional requests fauxqs ignores, and UploadPartCopy, which it lacks (see
//     "S3 conditional requests" below).
// The event is enqueued before the client gets its response, so a test that saw its PUT
// succeed can read the event at once (real S3 is asynchronous; nothing may rely on it being
// slower).
//
// Usage: node s3-event-bridge.js --upstream http://127.0.0.1:P --sqs http://127.0.0.1:P
//                                [--region us-east-1] [--port 0]
// No npm dependencies.
'use strict';
const http = require('http');
const crypto = require('crypto');

const ACCOUNT = '000000000000';
const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

function parseArgs(argv) {
        const args = { region: 'us-east-1', port: 0 };
        for (let i = 0; i < argv.length; i += 2) {
                const name = argv[i].replace(/^--/, '');
                if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
                args[name] = argv[i + 1];
        }
        if (!args.upstream || !args.sqs) throw new Error('--upstream and --sqs are required');
        return args;
}

const args = parseArgs(process.argv.slice(2));
const upstream = new URL(args.upstream);
const sqsEndpoint = new URL(args.sqs);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// bucket -> [{ id, queueArn, events: [..], prefix, suffix }]
const notifications = new Map();
// queue ARN -> queue URL (from GetQueueUrl)
const queueUrls = new Map();

function log(...msg) {
        process.stderr.write(`${new Date().toISOString()} s3-event-bridge: ${msg.join(' ')}\n`);
}

function hexId(bytes) {
        return crypto.randomBytes(bytes).toString('hex').toUpperCase();
}

// Sequencers must grow for events on the same key; 18 upper-case hex digits like S3's.
let lastSequencer = 0n;
function nextSequencer() {
        const now = BigInt(Date.now()) * 1000000n;
        lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
        return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}

// The key as S3 writes it into event records: application/x-www-form-urlencoded style
// (space -> '+', '+' -> %2B, UTF-8 bytes -> %XX) except that '/' stays as it is.
function s3EventKey(key) {
        let out = '';
        for (const byte of Buffer.from(key, 'utf8')) {
                const c = String.fromCharCode(byte);
                if (/[A-Za-z0-9.\-_*/]/.test(c)) out += c;
                else if (c === ' ') out += '+';
                else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
        }
        return out;
}

function xmlEscape(s) {
        return String(s).replace(/[<>&"']/g, (c) => ({
                '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;',
        }[c]));
}

function xmlUnescape(s) {
        return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e) => {
                if (e[0] === '#') {
                        const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
                        return String.fromCodePoint(cp);
                }
                return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e];
        });
}

function xmlElements(xml, name) {
        const re = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
        return [...xml.matchAll(re)].map((m) => m[1]);
}

function xmlText(xml, name) {
        const all = xmlElements(xml, name);
        return all.length ? xmlUnescape(all[0].trim()) : undefined;
}

function s3Error(res, status, code, message, extra = '') {
        const requestId = hexId(8);
        const hostId = crypto.randomBytes(48).toString('base64');
        const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
                `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}` +
                `<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`;
        res.writeHead(status, {
                'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body),
                'x-amz-request-id': requestId, 'x-amz-id-2': hostId,
        });
        res.end(body);
}

// Where a request goes: bucket, key (decoded) and the still-encoded key path.
function parseTarget(req) {
        const url = new URL(req.url, 'http://placeholder');
        const hostname = (req.headers.host || '').replace(/:\d+$/, '');
        const rawPath = req.url.split('?')[0];
        let bucket = '';
        let rawKey = '';
        const virtualHost = hostname.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(hostname) &&
                !/^\[/.test(hostname);
        if (virtualHost) {
                bucket = hostname.slice(0, hostname.indexOf('.'));
                rawKey = rawPath.replace(/^\//, '');
        } else {
                const m = rawPath.match(/^\/([^/]*)\/?(.*)$/);
                bucket = m ? m[1] : '';
                rawKey = m ? m[2] : '';
        }
        let key = rawKey;
        try {
                key = decodeURIComponent(rawKey);
        } catch (e) {
                // A malformed escape is the client's problem; fauxqs will answer it.
        }
        return { bucket, key, rawKey, query: url.searchParams };
}

function readBody(stream) {
        return new Promise((resolve, reject) => {
                const chunks = [];
                stream.on('data', (c) => chunks.push(c));
                stream.on('end', () => resolve(Buffer.concat(chunks)));
                stream.on('error', reject);
        });
}

function request(base, options, body) {
        return new Promise((resolve, reject) => {
                const req = http.request({
                        host: base.hostname, port: base.port, agent, ...options,
                }, async (res) => {
                        try {
                                resolve({ status: res.statusCode, headers: res.headers, body: await readBody(res) });
                        } catch (e) {
                                reject(e);
                        }
                });
                req.on('error', reject);
                req.end(body);
        });
}

function dummyAuth(service) {
        const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
        return {
                'X-Amz-Date': date,
                Authorization: `AWS4-HMAC-SHA256 Credential=AKIDS3EVENTBRIDGE/${date.slice(0, 8)}/` +
                        `${args.region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, ` +
                        `Signature=${'0'.repeat(64)}`,
        };
}

async function sqsCall(action, payload) {
        const body = JSON.stringify(payload);
        const res = await request(sqsEndpoint, {
                method: 'POST',
                path: '/',
                headers: {
                        'Content-Type': 'application/x-amz-json-1.0',
                        'X-Amz-Target': `AmazonSQS.${action}`,
                        'Content-Length': Buffer.byteLength(body),
                        ...dummyAuth('sqs'),
                },
        }, body);
        const text = res.body.toString('utf8');
        if (res.status !== 200) throw new Error(`SQS ${action} -> ${res.status} ${text}`);
        return JSON.parse(text || '{}');
}

async function queueUrlFor(arn) {
        if (queueUrls.has(arn)) return queueUrls.get(arn);
        const parts = arn.split(':');
        if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs')
                throw new Error(`not an SQS queue ARN: ${arn}`);
        const out = await sqsCall('GetQueueUrl', { QueueName: parts[5] });
        queueUrls.set(arn, out.QueueUrl);
        return out.QueueUrl;
}

async function sendToQueue(arn, message) {
        const url = await queueUrlFor(arn);
        await sqsCall('SendMessage', { QueueUrl: url, MessageBody: JSON.stringify(message) });
}

async function bucketExists(bucket) {
        const res = await request(upstream, {
                method: 'HEAD', path: `/${bucket}`, headers: dummyAuth('s3'),
        });
        return res.status === 200;
}

function parseNotification(xml) {
        return xmlElements(xml, 'QueueConfiguration').map((qc) => {
                const cfg = {
                        id: xmlText(qc, 'Id') || hexId(16).toLowerCase(),
                        queueArn: xmlText(qc, 'Queue'),
                        events: xmlElements(qc, 'Event').map((e) => xmlUnescape(e.trim())),
                        prefix: '',
                        suffix: '',
                };
                for (const rule of xmlElements(qc, 'FilterRule')) {
                        const name = (xmlText(rule, 'Name') || '').toLowerCase();
                        const value = xmlText(rule, 'Value') || '';
                        if (name === 'prefix') cfg.prefix = value;
                        else if (name === 'suffix') cfg.suffix = value;
                        else throw new Error(`filter rule name must be either prefix or suffix`);
                }
                return cfg;
        });
}

function eventMatches(pattern, eventName) {
        if (pattern.endsWith(':*')) return `s3:${eventName}`.startsWith(pattern.slice(0, -1));
        return pattern === `s3:${eventName}`;
}

const CREATED_EVENTS = ['ObjectCreated:Put', 'ObjectCreated:Post', 'ObjectCreated:Copy',
        'ObjectCreated:CompleteMultipartUpload'];

// S3 rejects two rules that could both fire for one event on one key.
function overlaps(a, b) {
        const matchesAny = (c, name) => c.events.some((e) => eventMatches(e, name));
        const sameEvent = CREATED_EVENTS.some((n) => matchesAny(a, n) && matchesAny(b, n)) ||
                a.events.some((e) => b.events.includes(e));
        const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
        const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
        return sameEvent && prefixes && suffixes;
}

function notificationXml(configs) {
        const body = configs.map((c) => {
                const rules = [];
                if (c.prefix) rules.push(['Prefix', c.prefix]);
                if (c.suffix) rules.push(['Suffix', c.suffix]);
                const filter = rules.length ? '<Filter><S3Key>' + rules.map(([n, v]) =>
                        `<FilterRule><Name>${n}</Name><Value>${xmlEscape(v)}</Value></FilterRule>`).join('') +
                        '</S3Key></Filter>' : '';
                return `<QueueConfiguration><Id>${xmlEscape(c.id)}</Id><Queue>${xmlEscape(c.queueArn)}</Queue>` +
                        c.events.map((e) => `<Event>${xmlEscape(e)}</Event>`).join('') + filter +
                        '</QueueConfiguration>';
        }).join('');
        return `<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="${S3_NS}">` +
                `${body}</NotificationConfiguration>`;
}

async function putNotification(req, res, target) {
        const xml = (await readBody(req)).toString('utf8');
        if (!(await bucketExists(target.bucket)))
                return s3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist',
                        `<BucketName>${xmlEscape(target.bucket)}</BucketName>`);
        let configs;
        try {
                configs = parseNotification(xml);
        } catch (e) {
                return s3Error(res, 400, 'InvalidArgument', e.message);
        }
        for (const [i, c] of configs.entries()) {
                if (!c.queueArn || c.events.length === 0)
                        return s3Error(res, 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
                for (const other of configs.slice(i + 1))
                        if (overlaps(c, other))
                                return s3Error(res, 400, 'InvalidArgument', 'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.');
        }
        const arns = [...new Set(configs.map((c) => c.queueArn))];
        for (const [i, arn] of arns.entries()) {
                try {
                        await queueUrlFor(arn);
                } catch (e) {
                        log(`cannot resolve ${arn}: ${e.message}`);
                        return s3Error(res, 400, 'InvalidArgument', 'Unable to validate the following destination configurations',
                                `<ArgumentName${i + 1}>${xmlEscape(arn)}</ArgumentName${i + 1}>` +
                                `<ArgumentValue${i + 1}>Permissions on the destination queue do not allow S3 to publish notifications from this bucket</ArgumentValue${i + 1}>`);
                }
        }
        notifications.set(target.bucket, configs);
        for (const arn of arns) {
                await sendToQueue(arn, {
                        Service: 'Amazon S3',
                        Event: 's3:TestEvent',
                        Time: new Date().toISOString(),
                        Bucket: target.bucket,
                        RequestId: hexId(8),
                        HostId: crypto.randomBytes(48).toString('base64'),
                });
        }
        log(`notification set on ${target.bucket}: ${configs.length} queue configuration(s)`);
        res.writeHead(200, { 'Content-Length': 0 });
        res.end();
}

async function getNotification(res, target) {
        if (!(await bucketExists(target.bucket)))
                return s3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist',
                        `<BucketName>${xmlEscape(target.bucket)}</BucketName>`);
        const body = notificationXml(notifications.get(target.bucket) || []);
        res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
}

const SUBRESOURCES = new Set(['acl', 'tagging', 'retention', 'legal-hold', 'partNumber',
        'uploadId', 'torrent', 'restore', 'select', 'attributes']);

// Which ObjectCreated event a request would cause if it succeeds, or null.
function createdEventName(req, target) {
        if (!target.bucket || !target.key || !notifications.has(target.bucket)) return null;
        const q = target.query;
        // Sub-resource PUTs (?acl, ?tagging, ?partNumber&uploadId ...) create nothing; plain
        // parameters such as the SDKs' ?x-id=PutObject do not change the operation.
        if (req.method === 'PUT' && ![...q.keys()].some((k) => SUBRESOURCES.has(k)))
                return req.headers['x-amz-copy-source'] ? 'ObjectCreated:Copy' : 'ObjectCreated:Put';
        if (req.method === 'POST' && q.has('uploadId')) return 'ObjectCreated:CompleteMultipartUpload';
        return null;
}

async function objectFacts(target) {
        const res = await request(upstream, {
                method: 'HEAD', path: `/${target.bucket}/${target.rawKey}`, headers: dummyAuth('s3'),
        });
        if (res.status !== 200) throw new Error(`HEAD ${target.bucket}/${target.key} -> ${res.status}`);
        return { size: Number(res.headers['content-length']), etag: res.headers.etag };
}

async function emitCreated(req, target, eventName, upRes) {
        const body = upRes.body.toString('utf8');
        // CopyObject and CompleteMultipartUpload can fail with 200 and an <Error> body.
        if (/<Error>/.test(body)) return;
        let size;
        let etag = upRes.headers.etag;
        if (eventName === 'ObjectCreated:Put') {
                const declared = req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'];
                if (declared !== undefined) size = Number(declared);
        } else {
                etag = xmlText(body, 'ETag') || etag;
        }
        if (size === undefined || !etag) {
                const facts = await objectFacts(target);
                size = facts.size;
                etag = etag || facts.etag;
        }
        etag = (etag || '').replace(/"/g, '');
        for (const cfg of notifications.get(target.bucket) || []) {
                if (!cfg.events.some((e) => eventMatches(e, eventName))) continue;
                if (!target.key.startsWith(cfg.prefix) || !target.key.endsWith(cfg.suffix)) continue;
                const record = {
                        eventVersion: '2.1',
                        eventSource: 'aws:s3',
                        awsRegion: args.region,
                        eventTime: new Date().toISOString(),
                        eventName,
                        userIdentity: { principalId: `AWS:${ACCOUNT}` },
                        requestParameters: {
                                sourceIPAddress: (req.socket.remoteAddress || '127.0.0.1').replace(/^::ffff:/, ''),
                        },
                        responseElements: {
                                'x-amz-request-id': upRes.headers['x-amz-request-id'] || hexId(8),
                                // S3's host id is long base64; fauxqs sends a placeholder word.
                                'x-amz-id-2': /^[A-Za-z0-9+/=]{40,}$/.test(upRes.headers['x-amz-id-2'] || '')
                                        ? upRes.headers['x-amz-id-2'] : crypto.randomBytes(48).toString('base64'),
                        },
                        s3: {
                                s3SchemaVersion: '1.0',
                                configurationId: cfg.id,
                                bucket: {
                                        name: target.bucket,
                                        ownerIdentity: { principalId: ACCOUNT },
                                        arn: `arn:aws:s3:::${target.bucket}`,
                                },
                                object: {
                                        key: s3EventKey(target.key),
                                        size,
                                        eTag: etag,
                                        sequencer: nextSequencer(),
                                },
                        },
                };
                await sendToQueue(cfg.queueArn, { Records: [record] });
                log(`${eventName} ${target.bucket}/${target.key} -> ${cfg.queueArn}`);
        }
}

// --- S3 conditional requests -------------------------------------------------------------
// fauxqs 1.9.2 honours If-Match on GetObject only: it ignores x-amz-copy-source-if-* on
// CopyObject, has no UploadPartCopy at all (it stores the empty request body as the part),
// and ignores If-Match / If-None-Match on DeleteObject, PutObject and
// CompleteMultipartUpload. The bridge checks those conditions itself against the object's
// current state (a HEAD upstream) and answers a failed one as S3 does, without forwarding —
// so a refused write creates nothing and sends no event. Check-then-forward is not atomic:
// a write landing between the HEAD and the forwarded request is not seen. That is enough for
// tests, which do not race their own conditional requests; real S3 evaluates the condition
// atomically (and answers 409 ConditionalRequestConflict to a concurrent loser).
// fauxqs has no bucket versioning (no PutBucketVersioning, no versionId on PUT), so only the
// current object exists: a copy source's ?versionId= is passed to the HEAD and ignored there.

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold';

// An ETag header value as a list of bare tags: quotes and the weak prefix stripped, a comma
// list split (RFC 7232, section 3.1); '*' stays '*'.
function etagList(value) {
        return String(value).split(',').map((t) => t.trim().replace(/^W\//, '').replace(/"/g, ''))
                .filter((t) => t !== '');
}

function etagMatches(headerValue, etag) {
        const bare = String(etag || '').replace(/"/g, '');
        return etagList(headerValue).some((t) => t === '*' || t === bare);
}

// The key as a path: each segment percent-encoded (fauxqs decodes the path).
function keyPath(bucket, key) {
        return `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

// x-amz-copy-source: "bucket/key" or "/bucket/key", URL-encoded, optionally "?versionId=v"
// (S3 API Reference, CopyObject, "x-amz-copy-source"). Null when it is not of that form.
function parseCopySource(value) {
        const [encoded, query] = String(value).split('?', 2);
        let decoded;
        try {
                decoded = decodeURIComponent(encoded).replace(/^\//, '');
        } catch (e) {
                return null;
        }
        const slash = decoded.indexOf('/');
        if (slash <= 0 || slash === decoded.length - 1) return null;
        const bucket = decoded.slice(0, slash);
        const key = decoded.slice(slash + 1);
        const versionId = query ? new URLSearchParams(query).get('versionId') : null;
        const path = keyPath(bucket, key) + (versionId ? `?versionId=${encodeURIComponent(versionId)}` : '');
        return { bucket, key, versionId, path };
}

// The object's current ETag and Last-Modified, or null when HEAD finds nothing.
async function currentObject(path) {
        const res = await request(upstream, { method: 'HEAD', path, headers: dummyAuth('s3') });
        if (res.status === 404) return null;
        if (res.status !== 200) throw new Error(`HEAD ${path} -> ${res.status}`);
        return { etag: res.headers.etag || '', lastModified: new Date(res.headers['last-modified']) };
}

function httpDate(value) {
        const d = new Date(value);
        return Number.isNaN(d.getTime()) ? null : d;
}

// Which x-amz-copy-source-if-* condition fails for SOURCE, or null. S3 API Reference,
// CopyObject / UploadPartCopy: if-match true and if-unmodified-since false -> the copy goes
// ahead; if-none-match false and if-modified-since true -> 412. So an ETag condition, when
// present, decides alone; the date condition only counts without it.
function copySourceConditionFailure(h, source) {
        const im = h['x-amz-copy-source-if-match'];
        const inm = h['x-amz-copy-source-if-none-match'];
        const ims = httpDate(h['x-amz-copy-source-if-modified-since']);
        const ius = httpDate(h['x-amz-copy-source-if-unmodified-since']);
        if (im !== undefined) {
                if (!etagMatches(im, source.etag)) return 'x-amz-copy-source-If-Match';
        } else if (ius && source.lastModified > ius) {
                return 'x-amz-copy-source-If-Unmodified-Since';
        }
        if (inm !== undefined) {
                if (etagMatches(inm, source.etag)) return 'x-amz-copy-source-If-None-Match';
        } else if (ims && source.lastModified <= ims) {
                return 'x-amz-copy-source-If-Modified-Since';
        }
        return null;
}

function hasCopySourceCondition(h) {
        return ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']
                .some((c) => h[`x-amz-copy-source-${c}`] !== undefined);
}

// The object operation a request is, as far as conditions go; null for anything else.
function objectOperation(req, target) {
        if (!target.bucket || !target.key) return null;
        const q = target.query;
        const sub = [...q.keys()].some((k) => SUBRESOURCES.has(k));
        const copy = req.headers['x-amz-copy-source'] !== undefined;
        if (req.method === 'PUT' && !sub) return copy ? 'CopyObject' : 'PutObject';
        if (req.method === 'PUT' && q.has('partNumber') && q.has('uploadId') && copy) return 'UploadPartCopy';
        if (req.method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
        if (req.method === 'DELETE' && !sub && !q.has('versionId')) return 'DeleteObject';
        return null;
}

function preconditionFailed(req, res, condition) {
        req.resume();   // the body is not wanted; drain it so the connection stays usable
        log(`${req.method} ${req.url}: precondition ${condition} failed`);
        s3Error(res, 412, 'PreconditionFailed', PRECONDITION_FAILED,
                `<Condition>${xmlEscape(condition)}</Condition>`);
}

function noSuchKey(req, res, key) {
        req.resume();
        s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${xmlEscape(key)}</Key>`);
}

// Conditions on the object the request writes or deletes (If-Match / If-None-Match).
// Answers and returns true when one fails.
//   PutObject, CopyObject, CompleteMultipartUpload: If-None-Match: * fails with 412 when the
//     key exists; If-Match fails with 412 on another ETag (S3 API Reference, PutObject
//     "If-Match" / "If-None-Match"), and with 404 NoSuchKey when there is no such key (S3 User
//     Guide, "How to prevent object overwrites with conditional writes": a conditional write
//     whose object is gone "fails with 404 Not Found").
//   DeleteObject (conditional delete, general purpose buckets): If-Match with another ETag ->
//     412; no current object -> 404 NoSuchKey, where an unconditional delete answers 204
//     (S3 User Guide, "How to perform conditional deletes": the condition is evaluated against
//     the current object, and a key that no longer exists gives 404 Not Found).
// If-None-Match with an ETag instead of '*' is left to the upstream (S3 takes only '*').
async function destinationConditionFailed(req, res, target, op) {
        const im = req.headers['if-match'];
        const inm = op === 'DeleteObject' ? undefined : req.headers['if-none-match'];
        if (im === undefined && (inm === undefined || inm.trim() !== '*')) return false;
        const current = await currentObject(`/${target.bucket}/${target.rawKey}`);
        if (!current && !(await bucketExists(target.bucket))) return false;   // NoSuchBucket upstream
        if (inm !== undefined && inm.trim() === '*' && current) {
                preconditionFailed(req, res, 'If-None-Match');
                return true;
        }
        if (im !== undefined) {
                if (!current) {
                        noSuchKey(req, res, target.key);
                        return true;
                }
                if (!etagMatches(im, current.etag)) {
                        preconditionFailed(req, res, 'If-Match');
                        return true;
                }
        }
        return false;
}

// UploadPartCopy done here, as S3 documents it: read the source (x-amz-copy-source-range or
// all of it), upload that as part N, answer <CopyPartResult>. Parts are held in memory: test
// sizes only.
async function uploadPartCopy(req, res, target, source) {
        req.resume();
        const headers = dummyAuth('s3');
        const range = req.headers['x-amz-copy-source-range'];
        if (range !== undefined) {
                if (!/^bytes=\d+-\d+$/.test(range))
                        return s3Error(res, 400, 'InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
                headers.Range = range;
        }
        const got = await request(upstream, { method: 'GET', path: source.path, headers });
        if (got.status === 416)
                return s3Error(res, 400, 'InvalidArgument', `Range specified is not valid for source object`);
        if (got.status !== 200 && got.status !== 206) {
                res.writeHead(got.status, { 'Content-Type': got.headers['content-type'] || 'application/xml',
                        'Content-Length': got.body.length });
                return res.end(got.body);
        }
        const q = target.query;
        const partPath = `/${target.bucket}/${target.rawKey}?partNumber=${encodeURIComponent(q.get('partNumber'))}` +
                `&uploadId=${encodeURIComponent(q.get('uploadId'))}`;
        const put = await request(upstream, {
                method: 'PUT', path: partPath,
                headers: { ...dummyAuth('s3'), 'Content-Type': 'application/octet-stream',
                        'Content-Length': got.body.length },
        }, got.body);
        if (put.status !== 200) {
                res.writeHead(put.status, { 'Content-Type': put.headers['content-type'] || 'application/xml',
                        'Content-Length': put.body.length });
                return res.end(put.body);
        }
        const lastModified = new Date(got.headers['last-modified'] || Date.now()).toISOString();
        const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
                `<CopyPartResult xmlns="${S3_NS}"><LastModified>${lastModified}</LastModified>` +
                `<ETag>${xmlEscape(put.headers.etag || '')}</ETag></CopyPartResult>`;
        res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body),
                'x-amz-request-id': hexId(8) });
        res.end(body);
}

// Applies the conditions of an object request; returns true when it has been answered here.
async function handledHere(req, res, target) {
        const op = objectOperation(req, target);
        if (!op) return false;
        if (op === 'CopyObject' || op === 'UploadPartCopy') {
                const source = parseCopySource(req.headers['x-amz-copy-source']);
                if (!source) return false;   // the upstream answers a malformed source
                if (hasCopySourceCondition(req.headers) || op === 'UploadPartCopy') {
                        const current = await currentObject(source.path);
                        // A missing source: forwarded, the upstream answers NoSuchKey.
                        if (current) {
                                const failed = copySourceConditionFailure(req.headers, current);
                                if (failed) {
                                        preconditionFailed(req, res, failed);
                                        return true;
                                }
                        }
                }
                if (op === 'UploadPartCopy') {
                        await uploadPartCopy(req, res, target, source);
                        return true;
                }
        }
        return destinationConditionFailed(req, res, target, op);
}

function forward(req, res, target, eventName) {
        const up = http.request({
                host: upstream.hostname,
                port: upstream.port,
                method: req.method,
                path: req.url,
                headers: req.rawHeaders,
                agent,
        }, async (upRes) => {
                if (!eventName || upRes.statusCode < 200 || upRes.statusCode > 299) {
                        res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                        upRes.pipe(res);
                        return;
                }
                // The response is small XML or empty: hold it until the event is queued.
                const body = await readBody(upRes);
                try {
                        await emitCreated(req, target, eventName, { headers: upRes.headers, body });
                } catch (e) {
                        log(`event for ${target.bucket}/${target.key} not sent: ${e.message}`);
                }
                res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                res.end(body);
        });
        up.on('error', (e) => {
                log(`upstream error: ${e.message}`);
                if (!res.headersSent) s3Error(res, 503, 'ServiceUnavailable', 'upstream unavailable');
                else res.destroy();
        });
        req.pipe(up);
}

const server = http.createServer(async (req, res) => {
        try {
                const target = parseTarget(req);
                if (target.bucket && !target.key && target.query.has('notification')) {
                        if (req.method === 'PUT') return await putNotification(req, res, target);
                        if (req.method === 'GET') return await getNotification(res, target);
                }
                if (await handledHere(req, res, target)) return;
                forward(req, res, target, createdEventName(req, target));
        } catch (e) {
                log(`internal error: ${e.stack}`);
                if (!res.headersSent) s3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
                else res.destroy();
        }
});
server.keepAliveTimeout = 30000;
server.listen(Number(args.port), '127.0.0.1', () => {
        log(`listening on 127.0.0.1:${server.address().port}, upstream ${args.upstream}`);
});
