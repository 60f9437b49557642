#!/usr/bin/env node
// Fault-injecting reverse proxy for tests: put it between the daemon and dynalite, the S3
// bridge or fauxqs, then queue faults over its control port. Every answer it makes up has
// the wire format AWS documents for that service, so the client's error handling is tested
// against what AWS really sends.
//
// Usage: node fault-proxy.js --target http://127.0.0.1:P --ports-file FILE
//   FILE receives {"proxy": port, "control": port} once both listen (127.0.0.1, kernel ports).
//
// Control API (JSON):
//   POST   /faults   queue a fault; answers {"id": N}. Fields:
//     match:   { target: "DynamoDB_20120810.BatchWriteItem" (X-Amz-Target, or the SNS/query
//                Action as "SNS.Publish"), method: "PUT", path: "regex on the URL",
//                body: "regex on the request body" }   all optional, all must hold
//     skip:    let this many matching requests pass first (default 0)
//     times:   how often it fires (default 1; -1 = until removed)
//     probability: fire on only this share (0..1) of the matching requests that are due,
//              e.g. 0.07 for a background fault rate; default 1. The requests it lets
//              pass count neither as fired nor as skipped. With `seed` (an integer) the
//              draws come from a generator of the fault's own, so a run can be replayed
//              as far as the order of the requests allows.
//     action:  "status"         answer status/body/headers (or a preset, below) without
//                               forwarding
//              "delay"          wait delay_ms, then forward (or answer status if given)
//              "reset"          close the connection without an answer
//              "drop-response"  forward, let the server act, then close without an answer
//              "truncate"       forward, send the headers and `bytes` body bytes, then close
//              "unprocessed"    BatchWriteItem: forward only `keep` write requests (default
//                               half, at least one) and return the rest in UnprocessedItems
//              "capacity"       BatchWriteItem: a table with `rate` WCU/s of write capacity.
//                               A call whose items would take the WCU forwarded over the
//                               last second past `rate` is throttled: mode "error" (default)
//                               answers ProvisionedThroughputExceededException (or `preset`),
//                               mode "unprocessed" forwards the items that fit and returns
//                               the rest in UnprocessedItems (none fit: the exception, as
//                               DynamoDB does). Use times: -1. Items cost 1 WCU per started
//                               KB of their DynamoDB size (attribute names + values, numbers
//                               1 byte per 2 digits + 1, as "Item sizes and formats" counts)
//              "copy-200-error" answer a CopyObject with 200 and an <Error> body
//              "receive-corrupt" SQS ReceiveMessage: forward, then damage message `index`
//                               (default 0; or a list, with a list `corrupt` to match) of the
//                               answer as `corrupt` says: "md5" (flip
//                               MD5OfBody), "no-body", "no-message-id", "no-receipt-handle",
//                               "count" (ApproximateReceiveCount "NaN"), "attributes"
//                               (Attributes a string), "huge" (a body of `size` bytes,
//                               default 1 MiB + 1, over any SQS maximum, with a matching MD5),
//                               "body" (the string `body`, matching MD5). An answer with
//                               fewer messages passes unchanged and does not use up the fault
//     preset:  with "status": dynamodb-throughput, dynamodb-throttling, dynamodb-internal,
//              s3-slowdown, s3-internal, s3-503, sqs-throttling, sns-throttling,
//              sns-throttling-exception, sns-throttled
//     status, body (string or JSON object), headers, delay_ms, bytes, keep, index, corrupt,
//     size
//   DELETE /faults   remove every fault
//   GET    /stats    {"total", "by_target", "faults": [{id, fired, remaining, ...}]}
//   GET    /capacity WCU of the BatchWriteItem items forwarded, per wall-clock second:
//                     {"seconds": [[unix_second, wcu], ...], "throttled": calls throttled by
//                     "capacity" faults, "throttled_seconds": [[unix_second, calls], ...],
//                     "forwarded_wcu": total}. Counted for every forwarded
//                     call, with or without a fault.
//   GET    /requests the last 1000 requests seen: [{method, url, target, status, fault, time_ms,
//                     body (JSON APIs: first 4 KiB, else null)}]
//   POST   /reset    clear faults, stats and the request log
// No npm dependencies.
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

function parseArgs(argv) {
        const args = {};
        for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
        if (!args.target) throw new Error('--target is required');
        return args;
}

const args = parseArgs(process.argv.slice(2));
const target = new URL(args.target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

let faults = [];
let nextId = 1;
let stats = { total: 0, by_target: {} };
let requestLog = [];
let capacity = { bySecond: new Map(), throttledBySecond: new Map(), window: [], throttled: 0, total: 0 };

function log(msg) {
        process.stderr.write(`${new Date().toISOString()} fault-proxy: ${msg}\n`);
}

// CRC32 of the body: DynamoDB sends it as x-amz-crc32 and botocore checks it.
const CRC_TABLE = (() => {
        const t = new Int32Array(256);
        for (let n = 0; n < 256; n++) {
                let c = n;
                for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
                t[n] = c;
        }
        return t;
})();

function crc32(buf) {
        let c = -1;
        for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
        return (c ^ -1) >>> 0;
}

// DynamoDB request ids are 52 characters of [A-Z0-9].
function dynamoRequestId() {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
        return [...crypto.randomBytes(52)].map((b) => alphabet[b % alphabet.length]).join('');
}

const requestId = () => crypto.randomBytes(8).toString('hex').toUpperCase();
const hostId = () => crypto.randomBytes(48).toString('base64');

function dynamoError(status, type, message) {
        return () => {
                const body = JSON.stringify({ __type: type, message });
                return {
                        status,
                        headers: {
                                'Content-Type': 'application/x-amz-json-1.0',
                                'x-amzn-RequestId': dynamoRequestId(),
                                'x-amz-crc32': String(crc32(Buffer.from(body))),
                        },
                        body,
                };
        };
}

function s3Error(status, code, message) {
        return () => {
                const rid = requestId();
                const hid = hostId();
                return {
                        status,
                        headers: { 'Content-Type': 'application/xml', 'x-amz-request-id': rid, 'x-amz-id-2': hid },
                        body: '<?xml version="1.0" encoding="UTF-8"?>\n' +
                                `<Error><Code>${code}</Code><Message>${message}</Message>` +
                                `<RequestId>${rid}</RequestId><HostId>${hid}</HostId></Error>`,
                };
        };
}

function snsError(status, code, message) {
        return () => {
                const rid = crypto.randomUUID();
                return {
                        status,
                        headers: { 'Content-Type': 'text/xml', 'x-amzn-RequestId': rid },
                        body: '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n' +
                                `  <Error>\n    <Type>Sender</Type>\n    <Code>${code}</Code>\n` +
                                `    <Message>${message}</Message>\n  </Error>\n` +
                                `  <RequestId>${rid}</RequestId>\n</ErrorResponse>\n`,
                };
        };
}

const DDB = 'com.amazonaws.dynamodb.v20120810#';
const PRESETS = {
        'dynamodb-throughput': dynamoError(400, `${DDB}ProvisionedThroughputExceededException`,
                'The level of configured provisioned throughput for the table was exceeded. ' +
                'Consider increasing your provisioning level with the UpdateTable API.'),
        'dynamodb-throttling': dynamoError(400, 'com.amazon.coral.availability#ThrottlingException',
                'Rate of requests exceeds the allowed throughput.'),
        'dynamodb-internal': dynamoError(500, `${DDB}InternalServerError`, 'Internal server error'),
        's3-slowdown': s3Error(503, 'SlowDown', 'Please reduce your request rate.'),
        's3-internal': s3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'),
        's3-503': s3Error(503, 'ServiceUnavailable', 'Service is unable to handle request.'),
        'sqs-throttling': () => {
                const body = JSON.stringify({ __type: 'com.amazonaws.sqs#RequestThrottled',
                        message: 'Request is throttled.' });
                return {
                        status: 400,
                        headers: { 'Content-Type': 'application/x-amz-json-1.0',
                                'x-amzn-RequestId': crypto.randomUUID(),
                                'x-amzn-query-error': 'RequestThrottled;Sender' },
                        body,
                };
        },
        // SNS (query protocol, XML errors): the query APIs' throttling codes (both are seen
        // and both are retried by the SDKs), and the Publish API's own ThrottledException.
        'sns-throttling': snsError(400, 'Throttling', 'Rate exceeded'),
        'sns-throttling-exception': snsError(400, 'ThrottlingException', 'Rate exceeded'),
        'sns-throttled': snsError(429, 'Throttled', 'Rate exceeded'),
};

function requestTarget(req, body) {
        if (req.headers['x-amz-target']) return req.headers['x-amz-target'];
        const type = req.headers['content-type'] || '';
        if (type.startsWith('application/x-www-form-urlencoded')) {
                const action = new URLSearchParams(body.toString('utf8')).get('Action');
                if (action) return `SNS.${action}`;
        }
        return `S3.${req.method}`;
}

function matches(fault, req, body, tgt) {
        const m = fault.match || {};
        // These two only make sense for one operation each.
        if (fault.action === 'copy-200-error' && !req.headers['x-amz-copy-source']) return false;
        if ((fault.action === 'unprocessed' || fault.action === 'capacity') &&
            tgt !== 'DynamoDB_20120810.BatchWriteItem') return false;
        if (fault.action === 'receive-corrupt' && tgt !== 'AmazonSQS.ReceiveMessage') return false;
        if (m.target && m.target !== tgt) return false;
        if (m.method && m.method.toUpperCase() !== req.method) return false;
        if (m.path && !new RegExp(m.path).test(req.url)) return false;
        if (m.body && !new RegExp(m.body).test(body.toString('utf8'))) return false;
        return true;
}

// mulberry32: a small seeded generator for the `probability` draws of one fault.
function seededRandom(seed) {
        let a = seed >>> 0;
        return () => {
                a = (a + 0x6d2b79f5) >>> 0;
                let t = a;
                t = Math.imul(t ^ (t >>> 15), t | 1);
                t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
                return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
}

// The first queued fault that matches and is due; counts skips and firings.
function pickFault(req, body, tgt) {
        for (const f of faults) {
                if (f.remaining === 0 || !matches(f, req, body, tgt)) continue;
                if (f.skipped < (f.skip || 0)) {
                        f.skipped++;
                        continue;
                }
                if (f.probability !== undefined && f.random() >= f.probability) continue;
                if (f.remaining > 0) f.remaining--;
                f.fired++;
                return f;
        }
        return null;
}

function readBody(stream) {
        return new Promise((resolve, reject) => {
                const chunks = [];
                stream.on('data', (c) => chunks.push(c));
                stream.on('end', () => resolve(Buffer.concat(chunks)));
                stream.on('error', reject);
        });
}

function sleep(ms) {
        return new Promise((r) => setTimeout(r, ms));
}

// Forwards the request; calls onResponse(upstreamResponse) with the body still unread.
function forward(req, body, onResponse, onError, headersOverride) {
        const headers = headersOverride || req.headers;
        const up = http.request({
                host: target.hostname, port: target.port, method: req.method, path: req.url,
                headers, agent,
        }, onResponse);
        up.on('error', onError);
        up.end(body);
}

function answer(res, made) {
        const body = typeof made.body === 'string' || Buffer.isBuffer(made.body)
                ? made.body : made.body === undefined ? '' : JSON.stringify(made.body);
        const headers = { ...(made.headers || {}) };
        headers['Content-Length'] = Buffer.byteLength(body);
        res.writeHead(made.status || 500, headers);
        res.end(res.req.method === 'HEAD' ? undefined : body);
}

function madeUp(fault) {
        if (fault.preset) {
                const preset = PRESETS[fault.preset];
                if (!preset) throw new Error(`unknown preset ${fault.preset}`);
                return preset();
        }
        return { status: fault.status, headers: fault.headers, body: fault.body };
}

// DynamoDB item size ("Item sizes and formats"): names and values in UTF-8 bytes.
function valueSize(v) {
        const [type, x] = Object.entries(v)[0] || ['NULL', true];
        switch (type) {
        case 'S': return Buffer.byteLength(x);
        case 'N': {
                const digits = String(x).replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '')
                        .replace(/^0+/, '').replace(/0+$/, '');
                return Math.ceil(digits.length / 2) + 1;
        }
        case 'B': return Buffer.from(x, 'base64').length;
        case 'BOOL': case 'NULL': return 1;
        case 'SS': return x.reduce((a, s) => a + Buffer.byteLength(s), 0);
        case 'NS': return x.reduce((a, n) => a + valueSize({ N: n }), 0);
        case 'BS': return x.reduce((a, b) => a + Buffer.from(b, 'base64').length, 0);
        case 'L': return 3 + x.reduce((a, e) => a + 1 + valueSize(e), 0);
        case 'M': return 3 + Object.entries(x).reduce((a, [k, e]) => a + 1 + Buffer.byteLength(k) + valueSize(e), 0);
        default: return 0;
        }
}

function itemWcu(item) {
        const size = Object.entries(item || {}).reduce((a, [k, v]) => a + Buffer.byteLength(k) + valueSize(v), 0);
        return Math.max(1, Math.ceil(size / 1024));
}

// [wcu of each write request] of a BatchWriteItem body, in request order.
function batchWcus(body) {
        const input = JSON.parse(body.toString('utf8'));
        const out = [];
        for (const reqs of Object.values(input.RequestItems || {}))
                for (const r of reqs) out.push(r.PutRequest ? itemWcu(r.PutRequest.Item) : 1);
        return out;
}

// WCU forwarded over the last second (the capacity faults' window).
function windowWcu(now) {
        while (capacity.window.length && capacity.window[0][0] <= now - 1000) capacity.window.shift();
        return capacity.window.reduce((a, [, w]) => a + w, 0);
}

function account(wcu) {
        const now = Date.now();
        const sec = Math.floor(now / 1000);
        capacity.window.push([now, wcu]);
        capacity.bySecond.set(sec, (capacity.bySecond.get(sec) || 0) + wcu);
        capacity.total += wcu;
        while (capacity.bySecond.size > 3600) capacity.bySecond.delete(capacity.bySecond.keys().next().value);
}

function capacityFault(req, res, body, fault, rec) {
        const wcus = batchWcus(body);
        const room = fault.rate - windowWcu(Date.now());
        let keep = 0;
        for (let used = 0; keep < wcus.length && used + wcus[keep] <= room; keep++) used += wcus[keep];
        if (keep === wcus.length) return passThrough(req, res, body, rec);
        capacity.throttled++;
        const sec = Math.floor(Date.now() / 1000);
        capacity.throttledBySecond.set(sec, (capacity.throttledBySecond.get(sec) || 0) + 1);
        if (fault.mode === 'unprocessed' && keep > 0)
                return unprocessed(req, res, body, { keep }, rec);
        rec.status = 400;
        return answer(res, PRESETS[fault.preset || 'dynamodb-throughput']());
}

function passThrough(req, res, body, rec) {
        let wcu = 0;
        if (rec.target === 'DynamoDB_20120810.BatchWriteItem') {
                try {
                        wcu = batchWcus(body).reduce((a, w) => a + w, 0);
                        account(wcu);
                } catch (e) {
                        log(`capacity accounting: ${e.message}`);
                }
        }
        forward(req, body, (upRes) => {
                rec.status = upRes.statusCode;
                res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                upRes.pipe(res);
        }, (e) => {
                log(`upstream error: ${e.message}`);
                // Not forwarded after all (e.g. the upstream closed the pooled keep-alive
                // connection as we reused it): the client sends the batch again, and it must
                // not count twice.
                if (wcu) account(-wcu);
                rec.status = 502;
                res.destroy();
        });
}

// Splits a BatchWriteItem: KEEP write requests go to the server, the rest come back as
// UnprocessedItems (same table -> [WriteRequest] shape as the request).
function unprocessed(req, res, body, fault, rec) {
        const input = JSON.parse(body.toString('utf8'));
        const all = [];
        for (const [table, reqs] of Object.entries(input.RequestItems || {}))
                for (const r of reqs) all.push([table, r]);
        const keep = fault.keep !== undefined ? fault.keep : Math.max(1, Math.floor(all.length / 2));
        const group = (pairs) => {
                const out = {};
                for (const [t, r] of pairs) (out[t] = out[t] || []).push(r);
                return out;
        };
        const held = all.slice(keep);
        const wcu = all.slice(0, keep).reduce((a, [, r]) => a + (r.PutRequest ? itemWcu(r.PutRequest.Item) : 1), 0);
        account(wcu);
        const fwdBody = Buffer.from(JSON.stringify({ ...input, RequestItems: group(all.slice(0, keep)) }));
        // The signature no longer covers this body; the local servers do not check it.
        const headers = { ...req.headers, 'content-length': String(fwdBody.length) };
        forward(req, fwdBody, async (upRes) => {
                const upBody = await readBody(upRes);
                rec.status = upRes.statusCode;
                if (upRes.statusCode !== 200) {
                        res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                        return res.end(upBody);
                }
                const out = JSON.parse(upBody.toString('utf8') || '{}');
                const merged = out.UnprocessedItems || {};
                for (const [t, reqs] of Object.entries(group(held))) merged[t] = (merged[t] || []).concat(reqs);
                out.UnprocessedItems = merged;
                const text = JSON.stringify(out);
                answer(res, {
                        status: 200,
                        headers: {
                                'Content-Type': 'application/x-amz-json-1.0',
                                'x-amzn-RequestId': upRes.headers['x-amzn-requestid'] || dynamoRequestId(),
                                'x-amz-crc32': String(crc32(Buffer.from(text))),
                        },
                        body: text,
                });
        }, (e) => {
                log(`upstream error: ${e.message}`);
                account(-wcu);  // not forwarded after all: the batch comes again (passThrough)
                res.destroy();
        }, headers);
}

const CORRUPTIONS = {
        md5: (m) => {
                const md5 = String(m.MD5OfBody || crypto.createHash('md5').update(m.Body || '').digest('hex'));
                m.MD5OfBody = (md5[0] === '0' ? '1' : '0') + md5.slice(1);
        },
        'no-body': (m) => { delete m.Body; },
        'no-message-id': (m) => { delete m.MessageId; },
        'no-receipt-handle': (m) => { delete m.ReceiptHandle; },
        count: (m) => { m.Attributes = { ...(m.Attributes || {}), ApproximateReceiveCount: 'NaN' }; },
        attributes: (m) => { m.Attributes = 'ApproximateReceiveCount=1'; },
        huge: (m, f) => {
                m.Body = 'x'.repeat(f.size || 1024 * 1024 + 1);
                m.MD5OfBody = crypto.createHash('md5').update(m.Body).digest('hex');
        },
        body: (m, f) => {
                m.Body = typeof f.body === 'string' ? f.body : JSON.stringify(f.body);
                m.MD5OfBody = crypto.createHash('md5').update(m.Body, 'utf8').digest('hex');
        },
};

// One message of a ReceiveMessage answer damaged (see the header); the others untouched.
function receiveCorrupt(req, res, body, fault, rec) {
        forward(req, body, async (upRes) => {
                const upBody = await readBody(upRes);
                rec.status = upRes.statusCode;
                let out = null;
                try {
                        out = upRes.statusCode === 200 ? JSON.parse(upBody.toString('utf8')) : null;
                } catch (e) {
                        out = null;
                }
                const indexes = [].concat(fault.index || 0);
                const kinds = [].concat(fault.corrupt || 'md5');
                const msgs = out && Array.isArray(out.Messages) ? out.Messages : [];
                if (Math.max(...indexes) >= msgs.length) {
                        // Nothing to damage this time: the fault waits for a receive that has it.
                        fault.fired--;
                        if (fault.remaining >= 0) fault.remaining++;
                        res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                        return res.end(upBody);
                }
                indexes.forEach((i, k) => CORRUPTIONS[kinds[k] || kinds[0]](msgs[i], fault));
                log(`receive-corrupt: messages ${indexes} of ${msgs.length} (${kinds})`);
                answer(res, {
                        status: 200,
                        headers: { 'Content-Type': 'application/x-amz-json-1.0',
                                'x-amzn-RequestId': upRes.headers['x-amzn-requestid'] || crypto.randomUUID() },
                        body: JSON.stringify(out),
                });
        }, (e) => {
                log(`upstream error: ${e.message}`);
                res.destroy();
        });
}

async function act(req, res, body, fault, rec) {
        switch (fault.action) {
        case 'status':
                return answer(res, madeUp(fault));
        case 'delay':
                await sleep(fault.delay_ms || 0);
                if (fault.status || fault.preset) return answer(res, madeUp(fault));
                return passThrough(req, res, body, rec);
        case 'reset':
                return req.socket.destroy();
        case 'drop-response':
                return forward(req, body, async (upRes) => {
                        await readBody(upRes);
                        rec.status = upRes.statusCode;
                        req.socket.destroy();
                }, () => req.socket.destroy());
        case 'truncate':
                return forward(req, body, (upRes) => {
                        rec.status = upRes.statusCode;
                        res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
                        let left = fault.bytes || 0;
                        upRes.on('data', (chunk) => {
                                if (left > 0) res.write(chunk.subarray(0, left));
                                left -= chunk.length;
                                if (left <= 0) {
                                        upRes.destroy();
                                        req.socket.destroy();
                                }
                        });
                        upRes.on('end', () => req.socket.destroy());
                }, () => req.socket.destroy());
        case 'unprocessed':
                return unprocessed(req, res, body, fault, rec);
        case 'capacity':
                return capacityFault(req, res, body, fault, rec);
        case 'receive-corrupt':
                return receiveCorrupt(req, res, body, fault, rec);
        case 'copy-200-error': {
                // AWS: a CopyObject can fail after the 200 went out; the error is in the body.
                const made = s3Error(200, 'InternalError', 'We encountered an internal error. Please try again.')();
                return answer(res, made);
        }
        default:
                throw new Error(`unknown action ${fault.action}`);
        }
}

const proxy = http.createServer(async (req, res) => {
        const body = await readBody(req);
        const tgt = requestTarget(req, body);
        stats.total++;
        stats.by_target[tgt] = (stats.by_target[tgt] || 0) + 1;
        const fault = pickFault(req, body, tgt);
        // time_ms (wall clock) and, for JSON APIs, the body's first 4 KiB: tests check what
        // was asked when (e.g. no visibility change past SQS's ceiling).
        const rec = { method: req.method, url: req.url, target: tgt, status: null,
                fault: fault ? fault.id : null, time_ms: Date.now(),
                body: req.headers['x-amz-target'] ? body.subarray(0, 4096).toString('utf8') : null };
        requestLog.push(rec);
        if (requestLog.length > 1000) requestLog.shift();
        try {
                if (fault) {
                        rec.status = fault.status || null;
                        if (fault.action !== 'capacity') log(`fault ${fault.id} (${fault.action}${fault.preset ? ' ' + fault.preset : ''}) on ${tgt} ${req.url}`);
                        await act(req, res, body, fault, rec);
                } else {
                        passThrough(req, res, body, rec);
                }
        } catch (e) {
                log(`error: ${e.stack}`);
                if (!res.headersSent) answer(res, { status: 500, body: String(e.message) });
        }
});

function json(res, status, value) {
        answer(res, { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });
}

const ACTIONS = ['status', 'delay', 'reset', 'drop-response', 'truncate', 'unprocessed', 'copy-200-error',
        'receive-corrupt', 'capacity'];

const control = http.createServer(async (req, res) => {
        const body = await readBody(req);
        const path = req.url.split('?')[0];
        try {
                if (req.method === 'POST' && path === '/faults') {
                        const f = JSON.parse(body.toString('utf8'));
                        if (f.probability !== undefined && !(typeof f.probability === 'number' &&
                            f.probability >= 0 && f.probability <= 1))
                                return json(res, 400, { error: 'probability must be a number in 0..1' });
                        if (!ACTIONS.includes(f.action)) return json(res, 400, { error: `unknown action ${f.action}` });
                        if (f.preset && !PRESETS[f.preset]) return json(res, 400, { error: `unknown preset ${f.preset}` });
                        if (f.action === 'capacity' && !(typeof f.rate === 'number' && f.rate > 0))
                                return json(res, 400, { error: 'capacity needs a rate > 0 (WCU/s)' });
                        if (f.action === 'status' && !f.preset && !f.status)
                                return json(res, 400, { error: 'status needs status or preset' });
                        if (f.action === 'receive-corrupt' && f.corrupt !== undefined &&
                            ![].concat(f.corrupt).every((k) => Object.hasOwn(CORRUPTIONS, k)))
                                return json(res, 400, { error: `unknown corruption ${f.corrupt}` });
                        const fault = { ...f, id: nextId++, fired: 0, skipped: 0,
                                remaining: f.times === undefined ? 1 : f.times };
                        // not enumerable: stays out of GET /stats
                        Object.defineProperty(fault, 'random', {
                                value: Number.isInteger(f.seed) ? seededRandom(f.seed) : Math.random });
                        faults.push(fault);
                        return json(res, 200, { id: fault.id });
                }
                if (req.method === 'DELETE' && path === '/faults') {
                        faults = [];
                        return json(res, 200, {});
                }
                if (req.method === 'GET' && path === '/stats')
                        return json(res, 200, { ...stats, faults });
                if (req.method === 'GET' && path === '/capacity')
                        return json(res, 200, { seconds: [...capacity.bySecond.entries()],
                                throttled_seconds: [...capacity.throttledBySecond.entries()],
                                throttled: capacity.throttled, forwarded_wcu: capacity.total });
                if (req.method === 'GET' && path === '/requests')
                        return json(res, 200, requestLog);
                if (req.method === 'POST' && path === '/reset') {
                        faults = [];
                        stats = { total: 0, by_target: {} };
                        requestLog = [];
                        capacity = { bySecond: new Map(), throttledBySecond: new Map(), window: [], throttled: 0, total: 0 };
                        return json(res, 200, {});
                }
                return json(res, 404, { error: 'no such control endpoint' });
        } catch (e) {
                return json(res, 400, { error: e.message });
        }
});

let listening = 0;
function ready() {
        if (++listening < 2) return;
        const ports = { proxy: proxy.address().port, control: control.address().port };
        if (args['ports-file']) {
                fs.writeFileSync(args['ports-file'] + '.tmp', JSON.stringify(ports) + '\n');
                fs.renameSync(args['ports-file'] + '.tmp', args['ports-file']);
        }
        log(`proxy 127.0.0.1:${ports.proxy} -> ${args.target}, control 127.0.0.1:${ports.control}`);
}
proxy.keepAliveTimeout = 30000;
proxy.listen(0, '127.0.0.1', ready);
control.listen(0, '127.0.0.1', ready);
