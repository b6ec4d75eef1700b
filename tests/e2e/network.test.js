'use strict';
// The real network, misbehaving: mini-programs in the simulated runtime reach a real
// mprtc-server through a loopback TCP proxy that can stall or cut their connections, go to the
// background past WeChat's suspend delay, live through a server restart, and are kicked, closed
// out of their room and outlived by their token. Each case checks the exact events the app sees.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { REPO, startServer, pushTestPattern, pullFrames, nextEvent, recordEvents } = require('./support');
const { startProxy } = require('./proxy');
const { miniProgram, waitFor, marker } = require('./mp');

const EVENTS = ['willreconnect', 'reconnected', 'reconnectFailed', 'disconnect', 'clientJoin', 'clientLeave',
  'stream-added', 'stream-removed', 'role-Changed', 'syncDone', 'kicked', 'liveRoomClose', 'tokenWillExpire'];

const portOf = (url) => Number(new URL(url).port);

async function setup(t, serverArgs) {
  const server = await startServer(serverArgs);
  t.after(() => server.stop());
  const proxy = await startProxy(portOf(server.endpoints.signal));
  t.after(() => proxy.close());
  return { server, proxy, viaProxy: `ws://127.0.0.1:${proxy.port}/ws` };
}

const names = (seen) => seen.map((e) => e.name);
// Event payloads come from the mini-program's realm; compare them as plain data.
const plain = (x) => JSON.parse(JSON.stringify(x));

/** A joins `channelName` as uid 1, then B as uid 2; resolves once A has seen B arrive. */
async function joinPair(a, b, channelName) {
  await a.join({ channelName, uid: 1 });
  const bArrived = nextEvent(a, 'clientJoin');
  await b.join({ channelName, uid: 2 });
  await bArrived;
}

test('a cut connection is resumed and the events missed meanwhile arrive once, in order', async (t) => {
  const { server, proxy, viaProxy } = await setup(t);
  const a = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: viaProxy, seed: 1 });
  const b = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  await joinPair(a, b, 'cut');
  const seen = recordEvents(a, EVENTS);

  // A's path goes dead; meanwhile B changes role twice. Then the path is cut.
  proxy.stall();
  await b.setRole('audience');
  await b.setRole('broadcaster');
  proxy.unstall();
  const back = nextEvent(a, 'reconnected');
  proxy.cut();
  assert.deepEqual(plain(await back), { resumed: true });
  // Both role changes arrive; anything sent twice would arrive before B's later marker.
  await waitFor(() => names(seen).filter((n) => n === 'role-Changed').length === 2, 'both role changes');
  await marker(b, a);
  assert.deepEqual(names(seen), ['willreconnect', 'reconnected', 'role-Changed', 'role-Changed']);
  assert.deepEqual(plain(seen[0].data), { count: 1 });
  assert.deepEqual(seen.slice(2).map((e) => e.data.role), ['audience', 'broadcaster']);
  // B never saw A go.
  const bSeen = recordEvents(b, EVENTS);
  assert.match(await a.publish(), /^rtmp:/, 'the session works as before');
  const left = nextEvent(b, 'clientLeave');
  await a.leave();
  await left;
  assert.deepEqual(names(bSeen), ['clientLeave']);
  await b.leave();
});

test('a silent path is found by the heartbeat and the session resumes', async (t) => {
  const { server, proxy, viaProxy } = await setup(t, ['--ping-interval-ms', '500', '--ping-timeout-ms', '1000']);
  const a = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: viaProxy, seed: 2 });
  const b = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  await a.join({ channelName: 'silent', uid: 1 });
  const seen = recordEvents(a, EVENTS);
  proxy.stall();
  await b.join({ channelName: 'silent', uid: 2 });
  // No close ever comes: the missed pong (1 s) tells A; the proxy passes new connections.
  await nextEvent(a, 'willreconnect', null, 20000);
  proxy.unstall();
  assert.deepEqual(plain(await nextEvent(a, 'reconnected', null, 20000)), { resumed: true });
  await waitFor(() => names(seen).includes('clientJoin'), 'B joining, as missed');
  await marker(b, a);
  assert.deepEqual(names(seen), ['willreconnect', 'reconnected', 'clientJoin']);
  assert.equal(seen[2].data.uid, 2);
  await Promise.all([a.leave(), b.leave()]);
});

test('when the network comes back the SDK reconnects at once, not at its next backoff', async (t) => {
  const { proxy, viaProxy } = await setup(t);
  const mp = miniProgram(t);
  const a = mp.require('mprtc').Client({ appkey: 'demo', server: viaProxy, seed: 6 });
  await a.join({ channelName: 'net', uid: 1 });
  const tries = [];
  a.on('willreconnect', (d) => tries.push(d.count));
  // No network: the SDK tries, fails, and backs off.
  proxy.refuse(true);
  proxy.cut();
  mp.setNetwork(false);
  await waitFor(() => tries.length >= 4, 'four tries', 30000, () => String(tries));
  // The network is back; the next try would be seconds away, but the SDK goes now. Its timers
  // are held meanwhile, so only the network change can have brought it back.
  mp.holdTimers();
  proxy.refuse(false);
  const triesBefore = tries.length;
  mp.setNetwork(true);
  assert.deepEqual(plain(await nextEvent(a, 'reconnected', null, 20000)), { resumed: true });
  assert.deepEqual(tries.slice(triesBefore), [], 'the try already announced went at once');
  mp.releaseTimers();
  await a.leave();
});

test('back from the background past the suspend delay, the socket is replaced at once', async (t) => {
  const { server } = await setup(t);
  const mp = miniProgram(t, { hideCloseDelayMs: 200, suspendOnHide: true });
  const a = mp.require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal, seed: 3 });
  const b = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  await joinPair(a, b, 'bg');
  const seen = recordEvents(a, EVENTS);
  mp.hideApp();
  await waitFor(() => mp.suspended, 'WeChat closing the socket and freezing the page');
  await b.leave();
  mp.showApp();
  assert.deepEqual(plain(await nextEvent(a, 'reconnected', null, 20000)), { resumed: true });
  // B comes back as the marker: everything A missed arrived before it, once, on the first try.
  await waitFor(() => names(seen).includes('clientLeave'), 'B leaving, as missed');
  const bBack = nextEvent(a, 'clientJoin');
  await b.join({ channelName: 'bg', uid: 2 });
  await bBack;
  assert.deepEqual(names(seen), ['willreconnect', 'reconnected', 'clientLeave', 'clientJoin']);
  assert.deepEqual(plain(seen[0].data), { count: 1 }, 'the first try got the session back');
  assert.deepEqual(plain(seen[2].data), { uid: 2, isBigNumber: false, reason: 'left' });
  await Promise.all([a.leave(), b.leave()]);
});

test('after a server restart clients rejoin with a snapshot and republish by themselves', async (t) => {
  const first = await startServer();
  let second = null;
  t.after(() => first.stop());
  t.after(() => second && second.stop());
  const proxy = await startProxy(portOf(first.endpoints.signal));
  t.after(() => proxy.close());
  const url = `ws://127.0.0.1:${proxy.port}/ws`;
  const a = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: url, seed: 4 });
  const b = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: url, seed: 5 });
  await a.join({ channelName: 'restart', uid: 1 });
  await b.join({ channelName: 'restart', uid: 2 });
  const oldUrl = await a.publish('video');
  const seenA = recordEvents(a, EVENTS);

  // The server goes; a new one comes up (new ports, new media secret) behind the same address.
  second = await startServer();
  proxy.retarget(portOf(second.endpoints.signal));
  await first.stop();
  const synced = nextEvent(a, 'syncDone', (d) => d.uid === 1, 10000);
  await nextEvent(a, 'reconnected', null, 10000);
  const sync = await synced;
  assert.notEqual(sync.url, oldUrl, 'a new push URL from the new server');
  assert.ok(sync.url.includes(new URL(second.endpoints.rtmp).host), sync.url);
  assert.deepEqual(names(seenA).slice(0, 2), ['willreconnect', 'reconnected']);
  assert.deepEqual(plain(seenA[1].data), { resumed: false });

  // The app pushes to the new URL; B, also back, sees the stream and plays it.
  const added = nextEvent(b, 'stream-added', (d) => d.uid === 1 && d.mediaType === 'video', 20000);
  const pusher = pushTestPattern(sync.url);
  t.after(() => pusher.stop());
  await added;
  const play = await b.subscribe(1, 'video');
  const got = await pullFrames(play.url, 3);
  assert.ok(got.frames.length >= 3, got.stderr.slice(-500));
  await Promise.all([a.leave(), b.leave()]);
});

function secureToken(room, uid, ttl) {
  const bin = REPO + '/target/debug/mprtc-server';
  return execFileSync(bin, ['token', '--app', 'secure', '--room', room, '--uid', String(uid), '--secret', 'secure-secret', '--ttl', String(ttl)]).toString().trim();
}

async function api(server, method, path) {
  const base = server.endpoints.signal.replace(/^ws/, 'http').replace(/\/ws$/, '');
  const res = await fetch(base + path, {
    method,
    headers: { authorization: 'Basic ' + Buffer.from('secure:secure-secret').toString('base64') },
  });
  return { status: res.status, body: await res.json() };
}

test('kicked by the server API, the room closed, a token run out: each ends the session once', async (t) => {
  const { server } = await setup(t);
  const join = async (room, uid, ttl) => {
    // One client per mini-program (NetEase's Client is a singleton): one runtime each.
    const mp = miniProgram(t);
    const c = mp.require('mprtc').Client({ appkey: 'secure', server: server.endpoints.signal });
    // Listening from before the join: nothing the server sends right after it is missed.
    const seen = recordEvents(c, EVENTS);
    await c.join({ channelName: room, uid, token: secureToken(room, uid, ttl || 600) });
    return { mp, c, seen };
  };
  const without = (seen, name) => seen.filter((e) => e.name !== name);

  const kickedOne = await join('k', 1);
  const other = await join('k', 2);
  const kicked = nextEvent(kickedOne.c, 'kicked');
  const left = nextEvent(other.c, 'clientLeave');
  assert.equal((await api(server, 'POST', '/api/v1/rooms/k/members/1/kick')).status, 200);
  assert.deepEqual(plain(await kicked), { reason: 'kicked' });
  await left;
  // A session the server ended has no socket left: nothing more can arrive.
  await waitFor(() => kickedOne.mp.sockets === 0, 'the kicked session\'s socket closed');
  assert.deepEqual(names(without(kickedOne.seen, 'clientJoin')), ['kicked']);
  assert.deepEqual(without(other.seen, 'clientJoin').map((e) => [e.name, e.data.reason]), [['clientLeave', 'kicked']]);
  await assert.rejects(kickedOne.c.publish(), (e) => e.code === 1002);

  const closing = nextEvent(other.c, 'liveRoomClose');
  assert.equal((await api(server, 'DELETE', '/api/v1/rooms/k')).status, 200);
  await closing;
  await waitFor(() => other.mp.sockets === 0, 'the closed room\'s socket closed');
  assert.deepEqual(names(without(other.seen, 'clientJoin')), ['clientLeave', 'liveRoomClose']);

  // A 3-second token: warned at once (less than 30 s left), ended when it runs out.
  const short = await join('t', 3, 3);
  const gone = await nextEvent(short.c, 'kicked', null, 20000);
  assert.deepEqual(plain(gone), { reason: 'token_expired' });
  await waitFor(() => short.mp.sockets === 0, 'the expired session\'s socket closed');
  assert.deepEqual(names(short.seen), ['tokenWillExpire', 'kicked']);
  // tokenWillExpire says how long is left: at most the token's 3 s.
  const left3 = short.seen[0].data.remainingSeconds;
  assert.ok(Number.isInteger(left3) && left3 >= 0 && left3 <= 3, `remainingSeconds ${left3}`);
});
