'use strict';
// A loopback TCP proxy that plays a phone's bad network, for the network tests and the reconnect
// benchmark alike: `stall()` stops moving bytes both ways while the sockets stay open (a dead
// mobile path), `cut()` destroys every connection, `refuse(true)` drops new connections at once
// (no network at all), `down()` / `up()` are cut-and-refuse and its end, and `retarget(port)`
// sends new connections elsewhere (a restarted server), and `answerInstead(type, text)` plays a
// broken server: the next request of that type is kept from the server and answered with `text`
// (a JSON template whose "$ID" becomes the request's id). It records when each passed connection
// was accepted, so a reconnect can be split into "waiting for the next try" and "the try".
//
// Bytes move whole WebSocket frames at a time (after the HTTP upgrade), so an answer the proxy
// writes never lands inside one of the server's frames. The server speaks no extensions
// (no permessage-deflate), so a frame's payload is its text.

const net = require('node:net');

/**
 * Splits one direction of a WebSocket connection into its pieces: the HTTP upgrade head, then
 * one piece per frame. `push(chunk)` returns the complete pieces, as {raw, text}: `text` is the
 * unmasked payload of a final text frame, null for anything else.
 */
function framer() {
  let buf = Buffer.alloc(0);
  let head = true;
  return function push(chunk) {
    buf = Buffer.concat([buf, chunk]);
    const pieces = [];
    for (;;) {
      if (head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        pieces.push({ raw: buf.subarray(0, end + 4), text: null });
        buf = buf.subarray(end + 4);
        head = false;
        continue;
      }
      if (buf.length < 2) break;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) break;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      const mask = masked ? buf.subarray(at, at + 4) : null;
      if (masked) at += 4;
      if (buf.length < at + len) break;
      let text = null;
      if (buf[0] === 0x81) {
        const payload = Buffer.from(buf.subarray(at, at + len));
        if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
        text = payload.toString('utf8');
      }
      pieces.push({ raw: buf.subarray(0, at + len), text });
      buf = buf.subarray(at + len);
    }
    return pieces;
  };
}

/** An unmasked final text frame, as a server sends one. */
function serverTextFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, len]) : len < 65536 ? Buffer.from([0x81, 126, len >> 8, len & 0xff]) : null;
  if (!head) throw new Error('answerInstead: answer too long');
  return Buffer.concat([head, payload]);
}

/** A request frame's {type, id}, or null for anything else. */
function requestOf(text) {
  try {
    const v = JSON.parse(text);
    return v && typeof v.type === 'string' && typeof v.id === 'number' ? { type: v.type, id: v.id } : null;
  } catch (e) {
    return null;
  }
}

function startProxy(targetPort) {
  let target = targetPort;
  let stalled = false;
  let refusing = false;
  let instead = null; // {type, text}: the next request of `type` gets `text` from the proxy
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
      const pieces = framer();
      from.on('data', (d) => {
        // Split even while stalled, so the frames after a stall are found where they start.
        const got = pieces(d);
        if (stalled) return;
        for (const p of got) {
          const req = from === down && instead && p.text !== null ? requestOf(p.text) : null;
          if (req && req.type === instead.type) {
            down.write(serverTextFrame(instead.text.replace('$ID', String(req.id))));
            instead = null;
          } else {
            to.write(p.raw);
          }
        }
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
        /** The next request of `type` is answered with `text` ("$ID": its id), not passed on. */
        answerInstead(type, text) {
          instead = { type, text };
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
