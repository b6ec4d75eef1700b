'use strict';
// Reconnect section (issue #4): time from the network coming back to `reconnected`, and the
// events lost on the way (must be 0), for clients in the simulated runtime behind a loopback
// proxy (tests/e2e/proxy.js) that takes their network away.
//
// Outage rounds: the proxies go down (connections cut, new ones refused); while down, a member
// connected directly (B) changes role N times; after `outageMs` plus a different fraction of a
// second each round the proxies come back up.
//   - A: the SDK as shipped. It resumes its session: `reconnected {resumed: true}`, then the
//     N missed role-Changed events, once each, in order.
//   - C (baseline, same outage, own proxy): an app whose client has reconnectTimeout: 0 and
//     that handles `disconnect` by joining again from scratch, retrying every `retryMs` while
//     that fails. Its join resolving is its "reconnected"; the N events are gone for it (the
//     join's snapshot shows B's final role only).
// Times are split at the first connection the proxy lets through after the restore: before it
// the client waits for its retry timer, after it the reconnect itself runs.
//
// Restart rounds: the server behind the proxy is replaced by a new one (every session lost),
// and A and B rejoin with a snapshot: `reconnected {resumed: false}`. Timed from the moment the
// new server is ready and the proxy points at it.

const { now, log, summary, sleep, table, withTimeout, miniPrograms } = require('./common');
const { startProxy } = require('../tests/e2e/proxy');
const { startServer, nextEvent } = require('../tests/e2e/support');
const { layoutPackage } = require('../tests/runtime');

const portOf = (url) => Number(new URL(url).port);

/** Resolves when `pred()` holds, checking every 10 ms; false after `ms`. */
async function until(pred, ms) {
  const end = now() + ms;
  while (!pred()) {
    if (now() > end) return false;
    await sleep(10);
  }
  return true;
}

/**
 * What both kinds of round run on: a server, two proxies in front of it and the simulated
 * mini-programs; `close()` closes the mini-programs, the proxies, then the server (which the
 * restart rounds replace).
 */
async function stage(pkg) {
  const server = await startServer();
  const port = portOf(server.endpoints.signal);
  const proxies = [await startProxy(port), await startProxy(port)];
  const s = { server, proxies, sims: miniPrograms(pkg.root) };
  s.close = async () => {
    await s.sims.close();
    for (const p of s.proxies) await p.close();
    await s.server.stop();
  };
  return s;
}

async function outageRounds({ pkg, rounds, events, outageMs, retryMs }) {
  const st = await stage(pkg);
  const { server, sims } = st;
  const [proxyA, proxyC] = st.proxies;
  const client = (url, extra) => sims.client(Object.assign({ appkey: 'demo', server: url }, extra));
  const via = (p) => `ws://127.0.0.1:${p.port}/ws`;
  try {
    const a = client(via(proxyA), { seed: 7 });
    const c = client(via(proxyC), { reconnectTimeout: 0 });
    const b = client(server.endpoints.signal);
    await a.join({ channelName: 'reconnect', uid: 1 });
    await c.join({ channelName: 'reconnect', uid: 3 });
    await b.join({ channelName: 'reconnect', uid: 2 });
    await sleep(200);

    // What each app sees of B's role changes.
    const rolesA = [];
    const rolesC = [];
    a.on('role-Changed', (d) => d.uid === 2 && rolesA.push(d.role));
    c.on('role-Changed', (d) => d.uid === 2 && rolesC.push(d.role));
    // The baseline app: on disconnect, join again until it works.
    let rejoined = null;
    let cJoins = 0;
    c.on('disconnect', () => {
      rejoined = (async () => {
        for (;;) {
          cJoins++;
          try {
            await c.join({ channelName: 'reconnect', uid: 3 });
            return now();
          } catch (_) {
            await sleep(retryMs);
          }
        }
      })();
    });

    const r = { resumed: [], toReconnected: [], waitForTry: [], tryToReconnected: [], lost: [], duplicated: [],
      baseline: { toJoined: [], waitForTry: [], tryToJoined: [], lost: [], joinAttempts: [] } };
    for (let i = 0; i < rounds; i++) {
      rolesA.length = 0;
      rolesC.length = 0;
      rejoined = null;
      cJoins = 0;
      const willA = nextEvent(a, 'willreconnect', null, 5000);
      const discC = nextEvent(c, 'disconnect', null, 5000);
      const tDown = now();
      proxyA.down();
      proxyC.down();
      // As WeChat does, both apps hear that the phone lost its network (and below, that it is
      // back); the SDK retries at once then, the baseline app does what it always does.
      for (const mp of sims.mps) mp.setNetwork(false);
      await Promise.all([willA, discC]);
      const expected = [];
      for (let k = 0; k < events; k++) {
        const role = k % 2 ? 'broadcaster' : 'audience';
        await b.setRole(role);
        expected.push(role);
      }
      // Each outage is longer by a different fraction of a second (golden-ratio spread, the same
      // every run), so that neither app's retry timer lines up with the restore by construction.
      const extra = ((i * 0.6180339887) % 1) * 1000;
      await sleep(Math.max(0, tDown + outageMs + extra - now()));
      const back = nextEvent(a, 'reconnected', null, 30000);
      const tUp = now();
      proxyA.up();
      proxyC.up();
      for (const mp of sims.mps) mp.setNetwork(true);
      const rec = await back;
      const tRec = now();
      const tJoined = await withTimeout(until(() => rejoined, 30000).then(() => rejoined), 35000, 'baseline rejoin');
      // Let every missed event arrive, and any duplicate after it.
      await until(() => rolesA.length >= expected.length, 5000);
      await sleep(300);
      const inOrder = expected.filter((role, k) => rolesA[k] === role).length;
      const acceptA = proxyA.firstAcceptAfter(tUp);
      const acceptC = proxyC.firstAcceptAfter(tUp);
      r.resumed.push(!!rec.resumed);
      r.toReconnected.push(tRec - tUp);
      r.waitForTry.push(acceptA - tUp);
      r.tryToReconnected.push(tRec - acceptA);
      r.lost.push(expected.length - inOrder);
      r.duplicated.push(Math.max(0, rolesA.length - expected.length));
      r.baseline.toJoined.push(tJoined - tUp);
      r.baseline.waitForTry.push(acceptC - tUp);
      r.baseline.tryToJoined.push(tJoined - acceptC);
      r.baseline.lost.push(expected.length - rolesC.length);
      r.baseline.joinAttempts.push(cJoins);
      log(`reconnect: round ${i + 1}: reconnected ${rec.resumed ? '(resumed)' : '(NOT resumed)'} ${Math.round(tRec - tUp)} ms after restore ` +
        `(next try after ${Math.round(acceptA - tUp)} ms), ${expected.length - inOrder}/${expected.length} events lost; ` +
        `baseline rejoin ${Math.round(tJoined - tUp)} ms, ${expected.length - rolesC.length} lost`);
      await sleep(300);
    }
    return r;
  } finally {
    await st.close();
  }
}

async function restartRounds({ pkg, rounds }) {
  // One proxy per client, so that the first connection after the restart is known to be A's.
  const st = await stage(pkg);
  const [proxy, proxyB] = st.proxies;
  const client = (p, seed) => st.sims.client({ appkey: 'demo', server: `ws://127.0.0.1:${p.port}/ws`, seed });
  const r = { resumed: [], toReconnected: [], waitForTry: [], tryToReconnected: [], serverStartMs: [] };
  try {
    const a = client(proxy, 11);
    const b = client(proxyB, 12);
    await a.join({ channelName: 'restart', uid: 1 });
    await b.join({ channelName: 'restart', uid: 2 });
    for (let i = 0; i < rounds; i++) {
      const willA = nextEvent(a, 'willreconnect', null, 10000);
      const backA = nextEvent(a, 'reconnected', null, 60000);
      const backB = nextEvent(b, 'reconnected', null, 60000);
      const old = st.server;
      const tStop = now();
      await old.stop();
      await willA;
      st.server = await startServer();
      proxy.retarget(portOf(st.server.endpoints.signal));
      proxyB.retarget(portOf(st.server.endpoints.signal));
      const tUp = now();
      const rec = await backA;
      const tRec = now();
      await backB;
      const accept = proxy.firstAcceptAfter(tUp);
      r.serverStartMs.push(tUp - tStop);
      r.resumed.push(!!rec.resumed);
      r.toReconnected.push(tRec - tUp);
      r.waitForTry.push(accept - tUp);
      r.tryToReconnected.push(tRec - accept);
      log(`reconnect: restart ${i + 1}: reconnected ${rec.resumed ? '(resumed?!)' : '(snapshot)'} ${Math.round(tRec - tUp)} ms ` +
        `after the new server was up (next try after ${Math.round(accept - tUp)} ms)`);
      await sleep(500);
    }
    return r;
  } finally {
    await st.close();
  }
}

async function run({ rounds = 5, events = 20, outageMs = 2000, retryMs = 1000, restarts = 3 } = {}) {
  const pkg = layoutPackage({});
  try {
    const o = await outageRounds({ pkg, rounds, events, outageMs, retryMs });
    const s = await restartRounds({ pkg, rounds: restarts });
    const sum = (xs) => xs.reduce((x, y) => x + y, 0);
    return {
      setup: { rounds, eventsPerOutage: events, outageMs, baselineRetryMs: retryMs, restarts },
      resume: {
        allResumed: o.resumed.every(Boolean),
        toReconnectedMs: summary(o.toReconnected),
        waitForTryMs: summary(o.waitForTry),
        tryToReconnectedMs: summary(o.tryToReconnected),
        eventsExpected: rounds * events,
        eventsLost: sum(o.lost),
        eventsDuplicated: sum(o.duplicated),
      },
      baseline: {
        toJoinedMs: summary(o.baseline.toJoined),
        waitForTryMs: summary(o.baseline.waitForTry),
        tryToJoinedMs: summary(o.baseline.tryToJoined),
        eventsLost: sum(o.baseline.lost),
        joinAttempts: summary(o.baseline.joinAttempts),
      },
      restart: {
        allSnapshots: s.resumed.every((x) => !x),
        toReconnectedMs: summary(s.toReconnected),
        waitForTryMs: summary(s.waitForTry),
        tryToReconnectedMs: summary(s.tryToReconnected),
        serverDownMs: summary(s.serverStartMs),
      },
    };
  } finally {
    pkg.cleanup();
  }
}

function rows(r) {
  return [
    ['reconnect: restore -> reconnected (resumed), p50 / max', `${r.resume.toReconnectedMs.p50} / ${r.resume.toReconnectedMs.max} ms`,
      `rejoin from scratch ${r.baseline.toJoinedMs.p50} / ${r.baseline.toJoinedMs.max} ms`, '-', null],
    ['reconnect: first try after restore -> reconnected, p50', `${r.resume.tryToReconnectedMs.p50} ms`,
      `rejoin from scratch ${r.baseline.tryToJoinedMs.p50} ms`, '-', null],
    ['reconnect: events lost during the outages', `${r.resume.eventsLost} of ${r.resume.eventsExpected}`,
      `rejoin from scratch ${r.baseline.eventsLost} of ${r.resume.eventsExpected}`, '0', r.resume.eventsLost === 0 && r.resume.eventsDuplicated === 0],
    ['reconnect: server restarted -> reconnected (snapshot), p50', `${r.restart.toReconnectedMs.p50} ms`, '-', '-', null],
  ];
}

function detail(r) {
  const line = (name, s) => [name, s.p50, s.p90, s.max];
  return [
    `${r.setup.rounds} outages of ${r.setup.outageMs} to ${r.setup.outageMs + 1000} ms, ${r.setup.eventsPerOutage} role changes by another member during each; ` +
      `baseline app retries its join every ${r.setup.baselineRetryMs} ms. ${r.setup.restarts} server restarts.`,
    '',
    table([
      ['ms', 'p50', 'p90', 'max'],
      line('**SDK: network restored -> reconnected {resumed: true}**', r.resume.toReconnectedMs),
      line('SDK: restored -> next connection attempt (retry timer)', r.resume.waitForTryMs),
      line('SDK: that attempt -> reconnected', r.resume.tryToReconnectedMs),
      line('**baseline: restored -> join from scratch resolved**', r.baseline.toJoinedMs),
      line('baseline: restored -> next join attempt', r.baseline.waitForTryMs),
      line('baseline: that attempt -> join resolved', r.baseline.tryToJoinedMs),
      line('**server restart: new server up -> reconnected {resumed: false}**', r.restart.toReconnectedMs),
      line('server restart: up -> next connection attempt', r.restart.waitForTryMs),
      line('server restart: that attempt -> reconnected', r.restart.tryToReconnectedMs),
    ]),
    '',
    `Events missed during the outages: SDK lost ${r.resume.eventsLost} and repeated ${r.resume.eventsDuplicated} of ${r.resume.eventsExpected} ` +
      `(all sessions resumed: ${r.resume.allResumed}); the rejoin-from-scratch app lost ${r.baseline.eventsLost}. ` +
      `Server restarts gave snapshot rejoins every time: ${r.restart.allSnapshots}.`,
  ].join('\n');
}

module.exports = { run, rows, detail };
