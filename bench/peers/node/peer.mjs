// The Lambda-style Node peer of bench/daemon-e2e: what the classic "S3 CSV into DynamoDB"
// walkthrough's Lambda function does, with the AWS SDK for JavaScript v3 — GetObject, the
// whole body as one string, split into lines and fields, one PutItem per row, awaited in turn.
// No quoting rules (the walkthrough has none; the bench's file needs none).
//
//   node peer.mjs BUCKET KEY TABLE     (endpoints and credentials from the environment:
//                                       S3_ENDPOINT, DYNAMODB_ENDPOINT, AWS_REGION, AWS_*_KEY*)
//
// Prints one JSON line: {"rows", "seconds", "cpu_s", "rss_mb"}; seconds and cpu_s count from
// the GetObject to the last PutItem (not Node's start-up), rss_mb is the process's peak:
// VmHWM, not getrusage's maxRSS, which Linux carries over from the parent across fork and
// exec (a peer spawned by a bench that holds a 1M-row file reported the bench's peak).
import { readFileSync } from 'node:fs';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

const [bucket, key, table] = process.argv.slice(2);
const region = process.env.AWS_REGION || 'us-east-1';
const s3 = new S3Client({ region, endpoint: process.env.S3_ENDPOINT, forcePathStyle: true });
const ddb = new DynamoDBClient({ region, endpoint: process.env.DYNAMODB_ENDPOINT });

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
const text = await obj.Body.transformToString();
const lines = text.split('\n').filter((l) => l.length > 0);
const header = lines[0].split(',');
let rows = 0;
for (let i = 1; i < lines.length; i++) {
        const fields = lines[i].split(',');
        const item = {};
        header.forEach((h, j) => { item[h] = { S: fields[j] }; });
        await ddb.send(new PutItemCommand({ TableName: table, Item: item }));
        rows++;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
        rows, seconds, cpu_s: (cpu.user + cpu.system) / 1e6,
        rss_mb: Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024,
}));
