'use strict';
// Cluster section (issue #15): three mprtc-server nodes over one redis-server on this machine,
// loaded by mprtc-loadgen (the real Rust core per member, spread over the nodes' URLs, member i
// on node i mod 3), beside a single node measured in the same run with the same loads. The
// nodes share the machine's cores with each other, with Redis and with the load generator: the
// numbers say what the cluster costs on one machine, not what three machines give.
//
//   idle     members in rooms across the nodes: server memory per member (RSS growth summed
//            over the nodes / members) and members per node.
//   fanout   one room of `fanoutMembers` over the three nodes, one publishes (real ffmpeg):
//            publish -> stream-added at each member, p99 and the last (goal p99 < 50 ms).
//   events   rooms where one member changes state in a loop: events delivered per server
//            core-second, the nodes' CPU summed (goal > 50,000).
//   kill     `killMembers` members of one room spread over the nodes (plain WebSockets); the
//            room's owner is killed with SIGKILL; each member whose socket closed joins again
//            through the next live node until it is in: kill -> rejoined, p50 and max (the
//            members are plain WebSockets that do not ask to resume, so this is a rejoin).
//   edges    N viewers of one stream through an nginx-rtmp origin and two edges against the
//            embedded single node: CPU per viewer and the largest N held (bench/edges.js).

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { REPO, log, now, round, sleep, summary, table, runJson, startReady, spawnTracked, stopChild, freePort } = require('./common');

const edges = require('./edges');

const WebSocket = require(require.resolve('ws', { paths: [path.join(REPO, 'tests')] }));

const SERVER_BIN = () => process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'release', 'mprtc-server');
const SECRET = 'bench-cluster-node-to-node-secret-0123456789';
const LEASE_MS = 3000;
/** The load generator's members all come from 127.0.0.1: lift the per-IP caps. */
const CROWD = ['--max-connections', '1000000', '--max-connections-per-ip', '1000000',
  '--rtmp-max-connections', '1000000', '--rtmp-max-connections-per-ip', '1000000'];

/** One RESP command over a fresh connection; the reply's first line and bulk value. */
function redisCall(port, ...args) {
  const req = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('error', reject);
    s.on('data', (d) => {
      got += d;
      const lines = got.split('\r\n');
      if (lines[0].startsWith('$-1') || lines[0].startsWith('+') || lines[0].startsWith(':') || lines.length > 2) {
        s.destroy();
        resolve(lines[0].startsWith('$') ? (lines[0] === '$-1' ? null : lines[1]) : lines[0]);
      }
    });
    s.write(req);
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawnTracked('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' });
  for (let i = 0; i < 300; i++) {
    if (await redisCall(port, 'PING').catch(() => null) === '+PONG') return { port, url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
    await sleep(50);
  }
  throw new Error('redis-server did not answer');
}

/** A node (`redis` given) or a single server (`redis` null) with the demo app uncapped. */
async function startNode(conf, redis, extra = []) {
  const port = await freePort();
  const args = ['--config', conf, '--listen', `127.0.0.1:${port}`, '--rtmp-listen', '127.0.0.1:0', '--flv-listen', '127.0.0.1:0', ...CROWD, ...extra];
  if (redis) {
    args.push('--redis-url', redis.url, '--cluster-advertise', `http://127.0.0.1:${port}`,
      '--cluster-secret', SECRET, '--cluster-lease-ms', String(LEASE_MS));
  }
  const s = await startReady(SERVER_BIN(), args);
  return { addr: `127.0.0.1:${port}`, url: s.ready.endpoints.signal, pid: s.child.pid, child: s.child, stop: s.stop };
}

/** Runs `fn(nodes)` with `n` nodes (a cluster when `redis`), stopping them after. */
async function withNodes(conf, redis, n, extra, fn) {
  const nodes = [];
  try {
    for (let i = 0; i < n; i++) nodes.push(await startNode(conf, redis, extra));
    if (redis) await sleep(200); // each node's first lease round registers it
    return await fn(nodes);
  } finally {
    for (const x of nodes) await x.stop();
  }
}

function loadgenPhase(loadgen, name, nodes, args, timeoutMs) {
  return runJson(loadgen, [name, '--url', nodes.map((x) => x.url).join(','), '--server-pid', nodes.map((x) => x.pid).join(','), ...args],
    { timeoutMs, prefix: '  ' });
}

/** One plain-WebSocket member: join `room` as `uid` at `url`; resolves the open socket. */
function joinAt(url, room, uid) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const fail = (e) => { ws.terminate(); reject(e instanceof Error ? e : new Error(String(e))); };
    ws.once('error', fail);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    ws.once('open', () => ws.send(JSON.stringify({ v: 1, id: 1, type: 'join', body: { appkey: 'demo', room, uid } })));
    ws.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.re !== 1) return;
      if (!m.ok) return fail(new Error(JSON.stringify(m)));
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      resolve(ws);
    });
  });
}

/** The kill phase on running `nodes`; see the header. */
async function killPhase(nodes, redis, members) {
  const room = 'takeover';
  const sockets = [];
  for (let i = 0; i < members; i++) sockets.push(await joinAt(nodes[i % nodes.length].url, room, i + 1));
  const owner = await redisCall(redis.port, 'GET', `mprtc:owner:demo:${room}`);
  const ownerAddr = await redisCall(redis.port, 'GET', `mprtc:node:${owner.split(':')[0]}`);
  const victim = nodes.findIndex((x) => x.addr === ownerAddr);
  const live = nodes.filter((_, i) => i !== victim);
  const closed = sockets.map((ws) => new Promise((r) => ws.once('close', r)));
  const t0 = now();
  nodes[victim].child.kill('SIGKILL');
  const times = await Promise.all(sockets.map(async (ws, i) => {
    await closed[i];
    for (let attempt = 0; ; attempt++) {
      try {
        const again = await joinAt(live[(i + attempt) % live.length].url, room, i + 1);
        const t = now() - t0;
        again.close(1000);
        return t;
      } catch (_) {
        if (now() - t0 > 60000) return null;
        await sleep(50);
      }
    }
  }));
  for (const ws of sockets) ws.terminate();
  return { members, rejoinedMs: summary(times), lost: times.filter((t) => t === null).length, leaseMs: LEASE_MS };
}

async function run({ loadgen, members = 3000, rooms = 300, holdSecs = 10, fanoutMembers = 1000, trials = 5,
  eventRooms = 20, perRoom = 50, eventSecs = 10, killMembers = 300, edgeViewers = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-bench-cluster-'));
  const conf = path.join(dir, 'mprtc.toml');
  fs.writeFileSync(conf, '[[apps]]\nkey = "demo"\ninsecure = true\nmax_rooms = 1000000\n');
  const redis = await startRedis(dir);
  const ffmpeg = process.env.FFMPEG || 'ffmpeg';
  const r = { nodes: 3, leaseMs: LEASE_MS };
  try {
    for (const [key, store, n] of [['single', null, 1], ['cluster', redis, 3]]) {
      log(`cluster: ${key}: idle`);
      const idle = await withNodes(conf, store, n, [], (ns) => loadgenPhase(loadgen, 'idle', ns,
        ['--members', String(members), '--rooms', String(rooms), '--hold-secs', String(holdSecs), '--concurrency', '100'], 600000));
      log(`cluster: ${key}: fanout`);
      const fanout = await withNodes(conf, store, n, [], (ns) => loadgenPhase(loadgen, 'fanout', ns,
        ['--members', String(fanoutMembers), '--trials', String(trials), '--ffmpeg', ffmpeg], 300000));
      log(`cluster: ${key}: events`);
      const events = await withNodes(conf, store, n, ['--max-requests-per-sec', '100000'], (ns) => loadgenPhase(loadgen, 'events', ns,
        ['--rooms', String(eventRooms), '--per-room', String(perRoom), '--secs', String(eventSecs)], 300000));
      r[key] = { idle, fanout, events };
    }
    log('cluster: kill');
    r.kill = await withNodes(conf, redis, 3, [], (ns) => killPhase(ns, redis, killMembers));
    log('cluster: edges');
    // Its own servers (none of the nodes above); a failure here is reported, not fatal.
    r.edges = await edges.run({ loadgen, ...edgeViewers }).catch((e) => {
      log(`cluster: edges FAILED: ${e.stack || e.message}`);
      return { error: e.message };
    });
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  r.goals = {
    bytesPerMember: { goal: 10 * 1024, met: r.cluster.idle.server.bytesPerMember < 10 * 1024 },
    fanoutP99Ms: { goal: 50, met: r.cluster.fanout.streamAdded.deliveredMs.p99 < 50 },
    eventsPerCoreSec: { goal: 50000, met: r.cluster.events.eventsPerServerCoreSec > 50000 },
  };
  return r;
}

function rows(r) {
  const c = r.cluster;
  const s = r.single;
  return [
    [`cluster: memory per member (${c.idle.members} members over 3 nodes, ${round(c.idle.members / 3)} per node)`,
      `${round(c.idle.server.bytesPerMember / 1024, 1)} KiB`, `single node: ${round(s.idle.server.bytesPerMember / 1024, 1)} KiB`, '< 10 KiB', r.goals.bytesPerMember.met],
    [`cluster: ${c.fanout.members}-member room over 3 nodes, publish -> stream-added p99 / last`,
      `${c.fanout.streamAdded.deliveredMs.p99} / ${c.fanout.streamAdded.lastPerTrialMs.max} ms`,
      `single node: ${s.fanout.streamAdded.deliveredMs.p99} / ${s.fanout.streamAdded.lastPerTrialMs.max} ms`, 'p99 < 50 ms', r.goals.fanoutP99Ms.met],
    ['cluster: events delivered per server core-second (nodes summed)', `${c.events.eventsPerServerCoreSec}`,
      `single node: ${s.events.eventsPerServerCoreSec}`, '> 50,000', r.goals.eventsPerCoreSec.met],
    [`cluster: owner killed -> ${r.kill.members} members rejoined, p50 / max`, `${r.kill.rejoinedMs.p50} / ${r.kill.rejoinedMs.max} ms`,
      `lease ${r.kill.leaseMs} ms; ${r.kill.lost} not back in 60 s`, '-', null],
    ...(r.edges.error ? [['edges: FAILED', r.edges.error.split('\n')[0].slice(0, 100), '', '', null]] : edges.rows(r.edges)),
  ];
}

function detail(r) {
  const line = (k) => {
    const x = r[k];
    return [k === 'single' ? 'one node' : 'three nodes + Redis',
      `${round(x.idle.server.bytesPerMember)} B`, `${round(x.idle.server.rssAfterHoldBytes / 2 ** 20, 1)} MiB`, `${x.idle.join.joinsPerSec}`,
      `${x.fanout.streamAdded.deliveredMs.p50} / ${x.fanout.streamAdded.deliveredMs.p99}`, `${x.fanout.streamAdded.lastPerTrialMs.max}`,
      `${x.events.eventsPerSec}`, `${x.events.serverCpuPct}%`, `${x.events.eventsPerServerCoreSec}`];
  };
  return [
    table([
      ['same loads, same run', 'memory / member', 'server RSS (summed)', 'joins/s', 'stream-added p50 / p99 ms', 'last ms', 'events/s', 'server CPU', 'events / core-s'],
      line('single'),
      line('cluster'),
    ]),
    '',
    `Idle: ${r.cluster.idle.members} members in ${r.cluster.idle.rooms} rooms, member i on node i mod 3 (a room's members sit on ` +
      'all three nodes, two of them relayed to the owner). Fanout: one room over the three nodes. Kill: ' +
      `${r.kill.members} members of one room, on all three nodes; SIGKILL to the owner; every member then joins again through ` +
      `the live nodes until one takes it (a node refuses while the dead owner's lease of ${r.kill.leaseMs} ms runs): ` +
      `rejoined after ${r.kill.rejoinedMs.p50} ms p50, ${r.kill.rejoinedMs.p90} ms p90, ${r.kill.rejoinedMs.max} ms max.`,
    '',
    r.edges.error ? `Edge viewers failed: ${r.edges.error}` : edges.detail(r.edges),
  ].join('\n');
}

module.exports = { run, rows, detail };
