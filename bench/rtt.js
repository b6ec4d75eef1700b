'use strict';
// Join and requests section: join(), publish() and subscribe() round trips through the real
// shim in the simulated runtime against a local mprtc-server, beside raw WebSocket round
// trips to an echo server (mprtc-loadgen echo) on the same loopback, in the same run, with
// the same WebSocket client the simulated wx.connectSocket uses (ws). The samples interleave:
// each iteration does one of everything, so both sides see the same machine.
//
//   join()      ~ a new socket (TCP + HTTP upgrade) and one request: baseline "connect + echo"
//   publish()   ~ one request on an open socket:                      baseline "echo"
//   subscribe() ~ one request on an open socket:                      baseline "echo"
//
// Issue #7's goal: within 1.5x of the raw round trip at p50 and 2x at p99.

const path = require('node:path');
const { REPO, now, log, summary, ratio, table, startReady, withTimeout, miniPrograms } = require('./common');
const { startServer } = require('../tests/e2e/support');
const { layoutPackage } = require('../tests/runtime');

const WebSocket = require(require.resolve('ws', { paths: [path.join(REPO, 'tests', 'runtime')] }));

// About the size of a publish request frame, so the echo carries what a request carries.
const PAYLOAD = JSON.stringify({ v: 1, id: 12345, type: 'publish', body: { media: { audio: true, video: true } } });

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function echo(ws) {
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.send(PAYLOAD, (e) => e && reject(e));
  });
}

async function connectEcho(url) {
  const ws = await open(url);
  await echo(ws);
  ws.terminate();
}

async function timed(fn) {
  const t = now();
  await fn();
  return now() - t;
}

async function run({ iterations = 300, warmup = 20, loadgen }) {
  const server = await startServer();
  const echoServer = await startReady(loadgen, ['echo']);
  const pkg = layoutPackage({});
  const sims = miniPrograms(pkg.root);
  const client = () => sims.client({ appkey: 'demo', server: server.endpoints.signal });
  let raw = null;
  try {
    const url = echoServer.ready.url;
    const publisher = client();
    await publisher.join({ channelName: 'rtt', uid: 1 });
    await publisher.publish();
    const x = client();
    raw = await open(url);
    const s = { join: [], publish: [], subscribe: [], leave: [], echo: [], connectEcho: [] };
    log(`rtt: ${warmup} warm-up + ${iterations} iterations`);
    for (let i = 0; i < warmup + iterations; i++) {
      const keep = i >= warmup;
      const add = (k, v) => keep && s[k].push(v);
      add('echo', await timed(() => echo(raw)));
      add('connectEcho', await timed(() => connectEcho(url)));
      add('join', await timed(() => withTimeout(x.join({ channelName: 'rtt', uid: 2 }), 10000, 'join')));
      add('publish', await timed(() => withTimeout(x.publish(), 10000, 'publish')));
      add('subscribe', await timed(() => withTimeout(x.subscribe(1), 10000, 'subscribe')));
      add('leave', await timed(() => withTimeout(x.leave(), 10000, 'leave')));
    }
    const r = { iterations, payloadBytes: PAYLOAD.length };
    for (const [k, v] of Object.entries(s)) r[k] = summary(v);
    const cmp = (a, b) => ({ p50: ratio(r[a].p50, r[b].p50), p99: ratio(r[a].p99, r[b].p99) });
    r.ratios = { join: cmp('join', 'connectEcho'), publish: cmp('publish', 'echo'), subscribe: cmp('subscribe', 'echo') };
    r.goal = { p50: 1.5, p99: 2 };
    r.met = Object.fromEntries(Object.entries(r.ratios).map(([k, v]) => [k, v.p50 <= 1.5 && v.p99 <= 2]));
    log(`rtt: join ${r.join.p50}/${r.join.p99} ms vs connect+echo ${r.connectEcho.p50}/${r.connectEcho.p99}; ` +
      `publish ${r.publish.p50}/${r.publish.p99}, subscribe ${r.subscribe.p50}/${r.subscribe.p99} vs echo ${r.echo.p50}/${r.echo.p99} (p50/p99 ms)`);
    return r;
  } finally {
    if (raw) raw.terminate();
    await sims.close();
    pkg.cleanup();
    await echoServer.stop();
    await server.stop();
  }
}

function rows(r) {
  const row = (name, k, base, bk) => [
    `requests: ${name} p50 / p99`, `${r[k].p50} / ${r[k].p99} ms`, `${base} ${r[bk].p50} / ${r[bk].p99} ms`,
    '<= 1.5x / 2x', r.met[k] ? `${r.ratios[k].p50}x / ${r.ratios[k].p99}x` : `NO: ${r.ratios[k].p50}x / ${r.ratios[k].p99}x`,
  ];
  return [
    row('join()', 'join', 'connect+echo', 'connectEcho'),
    row('publish()', 'publish', 'echo', 'echo'),
    row('subscribe()', 'subscribe', 'echo', 'echo'),
  ];
}

function detail(r) {
  const line = (name, k) => [name, r[k].p50, r[k].p90, r[k].p99, r[k].max];
  return table([
    ['ms', 'p50', 'p90', 'p99', 'max'],
    line('join() (new socket + join request)', 'join'),
    line('publish()', 'publish'),
    line('subscribe()', 'subscribe'),
    line('leave()', 'leave'),
    line('raw: connect + echo (new socket)', 'connectEcho'),
    line('raw: echo on an open socket', 'echo'),
  ]);
}

module.exports = { run, rows, detail };
