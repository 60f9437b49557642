// Preloaded into every world server (`node -r ./loopback.js ...`).
// - Forces every listening socket onto 127.0.0.1 (fauxqs hard-codes 0.0.0.0).
// - WORLD_LISTEN_PORT, if set, replaces the requested port (0 = let the kernel pick, so
//   several worlds never race for a port); the bound port is written to WORLD_PORT_FILE.
// - WORLD_OWNER_PID, if set, ends the server when that process is gone, so a killed test
//   run leaves nothing behind.
'use strict';
const net = require('net');
const fs = require('fs');

const LOOPBACK = '127.0.0.1';
const origListen = net.Server.prototype.listen;
let patchedOnce = false;

net.Server.prototype.listen = function (...args) {
        // Only the first listen() is the server's public socket; later ones are left alone.
        const first = !patchedOnce;
        patchedOnce = true;
        const wantPort = process.env.WORLD_LISTEN_PORT;
        if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null) {
                const opts = Object.assign({}, args[0], { host: LOOPBACK });
                if (first && wantPort !== undefined) opts.port = Number(wantPort);
                args[0] = opts;
        } else if (args.length > 0 && typeof args[0] !== 'function') {
                const cbIndex = args.findIndex((a) => typeof a === 'function');
                const cb = cbIndex >= 0 ? args[cbIndex] : undefined;
                const port = first && wantPort !== undefined ? Number(wantPort) : args[0];
                args = cb ? [port, LOOPBACK, cb] : [port, LOOPBACK];
        }
        if (first && process.env.WORLD_PORT_FILE) {
                this.once('listening', () => {
                        const file = process.env.WORLD_PORT_FILE;
                        // Written atomically: the world script polls for this file.
                        fs.writeFileSync(file + '.tmp', String(this.address().port) + '\n');
                        fs.renameSync(file + '.tmp', file);
                });
        }
        return origListen.apply(this, args);
};

const owner = Number(process.env.WORLD_OWNER_PID || 0);
if (owner > 0) {
        setInterval(() => {
                try {
                        process.kill(owner, 0);
                } catch (e) {
                        if (e.code === 'ESRCH') process.exit(0);
                }
        }, 1000).unref();
}
