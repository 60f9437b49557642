// Starts fauxqs (S3 + SQS + SNS) without its per-request logger; its dist/server.js forces
// logging on. Loopback binding and the port come from loopback.js (node -r).
import { startFauxqs } from 'fauxqs';

await startFauxqs({
        logger: process.env.FAUXQS_LOGGER === 'true',
        port: 0,
});
