'use strict';
// A loopback TCP proxy that plays a phone's bad network, for the network tests and the reconnect
// benchmark alike: `stall()` stops moving bytes both ways while the sockets stay open (a dead
// mobile path), `cut()` destroys every connection, `refuse(true)` drops new connections at once
// (no network at all), `down()` / `up()` are cut-and-refuse and its end, and `retarget(port)`
// sends new connections elsewhere (a restarted server). It records when each passed connection
// was accepted, so a reconnect can be split into "waiting for the next try" and "the try".

const net = require('node:net');

function startProxy(targetPort) {
  let target = targetPort;
  let stalled = false;
  let refusing = false;
  const pairs = new Set();
  const accepted = [];
  const server = net.createServer((down) => {
    if (refusing) {
      down.destroy();
      return;
    }
    accepted.push(performance.now());
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
    for (const [from, to] of [[down, up], [up, down]]) {
      from.on('data', (d) => {
        if (!stalled) to.write(d);
      });
      from.on('error', end);
      from.on('close', end);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        stall() {
          stalled = true;
        },
        unstall() {
          stalled = false;
        },
        refuse(on) {
          refusing = on;
        },
        cut() {
          for (const p of pairs) {
            p.up.destroy();
            p.down.destroy();
          }
          pairs.clear();
        },
        down() {
          this.refuse(true);
          this.cut();
        },
        up() {
          this.refuse(false);
        },
        retarget(port) {
          target = port;
        },
        /** When the first connection at or after `t` (performance.now()) was let through, or null. */
        firstAcceptAfter(t) {
          return accepted.find((a) => a >= t) ?? null;
        },
        close() {
          this.cut();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

module.exports = { startProxy };
