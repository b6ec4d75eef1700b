'use strict';
// A loopback TCP proxy that can take "the network" away: down() cuts every connection through
// it and refuses new ones (accepted and dropped at once, as a dead route fails fast), up()
// lets them through again. It records when each passed connection was accepted, so a
// reconnect can be split into "waiting for the next try" and "the try itself".

const net = require('node:net');
const { now } = require('./common');

function startProxy(targetPort) {
  let target = targetPort;
  let isDown = false;
  const pairs = new Set();
  const accepted = [];
  const server = net.createServer((down) => {
    if (isDown) {
      down.destroy();
      return;
    }
    accepted.push(now());
    const up = net.connect(target, '127.0.0.1');
    const pair = { up, down };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      up.destroy();
      down.destroy();
    };
    up.setNoDelay(true);
    down.setNoDelay(true);
    down.pipe(up);
    up.pipe(down);
    for (const s of [up, down]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        down() {
          isDown = true;
          for (const p of pairs) {
            p.up.destroy();
            p.down.destroy();
          }
          pairs.clear();
        },
        up() {
          isDown = false;
        },
        retarget(port) {
          target = port;
        },
        /** When the first connection at or after `t` was let through, or null. */
        firstAcceptAfter(t) {
          return accepted.find((a) => a >= t) ?? null;
        },
        close() {
          this.down();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

module.exports = { startProxy };
