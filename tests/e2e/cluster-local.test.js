'use strict';
// scripts/cluster.js as README "Several nodes (Redis)" tells a newcomer to run it: redis-server,
// three mprtc-server nodes, the nginx-rtmp origin and two edges and the TLS load balancer, all
// from deploy/ as they are. Two mini-programs (the built pkg/ in the simulated runtime, trusting
// the cluster's self-signed certificate) join one room through the one wss:// address; one
// publishes with ffmpeg to the push URL it is given (the origin), the other plays the URL it is
// given (an edge, which pulls from the origin) and decodes frames; a node killed with SIGKILL
// is reported while the rest keep running; the script stopped, every process it started is gone.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, execFileSync } = require('node:child_process');
const { REPO, pushTestPattern, pullFrames, nextEvent, videoAdded } = require('./support');
const { miniProgram, waitFor } = require('./mp');

const SERVER_BIN = path.join(REPO, 'target', 'debug', 'mprtc-server');
const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/** What the cluster needs besides the server; missing under CI=true fails, elsewhere skips. */
function missing() {
  const have = (cmd) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return true;
    } catch (e) {
      return false;
    }
  };
  const gone = ['redis-server', 'nginx', 'openssl', 'ffmpeg'].filter((c) => !have(c));
  if (!fs.existsSync(RTMP_MODULE)) gone.push('libnginx-mod-rtmp');
  return gone;
}

/** True if process `pid` exists. */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return false;
  }
}

/** Starts scripts/cluster.js on free ports; resolves with {info, child, stderr, exited}. */
function startCluster() {
  const child = spawn(process.execPath, [path.join(REPO, 'scripts', 'cluster.js'), '--base-port', '0', '--server', SERVER_BIN],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code === null ? sig : code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no cluster within 60 s:\n${stderr.join('\n')}`)), 60000);
    exited.then((code) => reject(new Error(`scripts/cluster.js exited (${code}):\n${stderr.join('\n')}`)));
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ info: JSON.parse(line), child, stderr, exited });
    });
  });
}

test('scripts/cluster: one room through the load balancer, media through the origin and an edge, a node killed, all stopped', async (t) => {
  const gone = missing();
  if (gone.length) {
    if (process.env.CI === 'true') assert.fail(`missing under CI: ${gone.join(', ')} (scripts/setup installs them)`);
    t.skip(`needs ${gone.join(', ')} (scripts/setup installs them)`);
    return;
  }
  const c = await startCluster();
  let stopped = false;
  t.after(() => !stopped && c.child.kill('SIGTERM'));
  const { info } = c;
  const pids = [...info.nodes.map((n) => n.pid), info.origin.pid, ...info.edges.map((e) => e.pid), info.redis.pid, info.lb.pid];
  assert.ok(pids.every(alive), 'every process runs');

  const ca = fs.readFileSync(info.ca, 'utf8');
  const token = (uid) => execFileSync(SERVER_BIN, ['token', '--app', info.app.key, '--secret', info.app.secret, '--room', 'r1', '--uid', String(uid)]).toString().trim();
  const client = () => miniProgram(t, { trustedCa: ca }).require('mprtc').Client({ appkey: info.app.key, server: info.ws });
  const alice = client();
  const bob = client();
  await alice.join({ channelName: 'r1', uid: 1, token: token(1) });
  const aliceSees = nextEvent(alice, 'clientJoin', (d) => d.uid === 2, 20000);
  await bob.join({ channelName: 'r1', uid: 2, token: token(2) });
  await aliceSees;

  // Alice's push URL is the origin's; bob's play URL one of the edges'.
  const added = videoAdded(bob, 1);
  const push = await alice.publish();
  assert.ok(push.startsWith(info.origin.rtmp + '/'), `push URL at the origin: ${push}`);
  const pusher = pushTestPattern(push);
  t.after(() => pusher.stop());
  await added;
  const { url: play } = await bob.subscribe(1, 'video');
  const edge = info.edges.find((e) => play.startsWith(e.rtmp + '/'));
  assert.ok(edge, `play URL at an edge: ${play}`);
  const pulled = await pullFrames(play, 10, 30000);
  assert.ok(pulled.frames.length >= 10, `10 frames decoded through the edge:\n${pulled.stderr.slice(-1500)}`);

  // A node killed: the script says so and keeps the rest running.
  const victim = info.nodes[2];
  process.kill(victim.pid, 'SIGKILL');
  await waitFor(() => c.stderr.some((l) => /node3 exited \(SIGKILL\); the rest keep running/.test(l)), 'the script to report the killed node', 20000, () => c.stderr.join('\n'));
  assert.ok(pids.filter((p) => p !== victim.pid).every(alive), 'the rest keep running');

  // Stopped: every process it started is gone, its directory too.
  stopped = true;
  c.child.kill('SIGTERM');
  assert.equal(await c.exited, 0, c.stderr.join('\n'));
  assert.ok(!pids.some(alive), 'every process it started is gone');
  assert.ok(!fs.existsSync(info.dir), `${info.dir} removed`);
});
