'use strict';
// The vertical slice as a user runs it: two mini-programs load the built pkg/ in the simulated
// WeChat runtime, join one room on a real mprtc-server, and real media flows through the
// embedded RTMP server from ffmpeg (as <live-pusher>) to ffmpeg (as <live-player>).

const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, pushTestPattern, pullFrames, nextEvent, videoAdded, recordEvents, sleep } = require('./support');
const mps = require('./mp');

const miniProgram = (t, shape) => mps.miniProgram(t, { instantiateShape: shape });

test('two mini-programs join, publish and subscribe with real media', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const signal = server.endpoints.signal;

  // One runtime gets {instance, module} from WXWebAssembly.instantiate, the other the bare instance.
  const mpA = miniProgram(t, 'pair');
  const SDKa = mpA.require('mprtc');
  const SDKb = miniProgram(t, 'instance').require('mprtc');
  const a = SDKa.Client({ appkey: 'demo', debug: false, server: signal });
  const b = SDKb.Client({ appkey: 'demo', debug: false, server: signal });
  await Promise.all([a.init(), b.init()]);
  const room = 'slice' + process.pid;
  const seenByB = recordEvents(b, ['open', 'clientJoin', 'clientLeave', 'stream-added', 'stream-removed', 'disconnect']);

  const opened = nextEvent(a, 'open');
  await a.join({ channelName: room, uid: 1001 });
  await opened;
  const bJoined = nextEvent(a, 'clientJoin');
  await b.join({ channelName: room, uid: '9007199254740993' });
  const cj = await bJoined;
  assert.deepEqual({ uid: cj.uid, isBigNumber: cj.isBigNumber }, { uid: '9007199254740993', isBigNumber: true });

  // Audience cannot publish: a typed error, and the session goes on.
  await b.setRole('audience');
  await assert.rejects(b.publish(), (e) => require('node:util').types.isNativeError(e) && e.code === 4022 && e.reason === 'audience_cannot_publish');
  await b.setRole('broadcaster');
  // Subscribing to someone who publishes nothing is refused by the server.
  await assert.rejects(b.subscribe(1001, 'video'), (e) => e.code === 4023);

  const added = nextEvent(b, 'stream-added', (d) => d.mediaType === 'video', 20000);
  const pushUrl = await a.publish();
  assert.match(pushUrl, /^rtmp:\/\/127\.0\.0\.1:\d+\/live\/[A-Za-z0-9]+\.1001\?/);
  const pusher = pushTestPattern(pushUrl);
  t.after(() => pusher.stop());
  const ev = await added;
  assert.deepEqual({ uid: ev.uid, isBigNumber: ev.isBigNumber }, { uid: 1001, isBigNumber: false });

  const play = await b.subscribe(ev.uid, 'video');
  assert.match(play.url, /^rtmp:\/\//);
  assert.match(play.flvUrl, /^http:\/\/.*\.flv\?/);
  for (const url of [play.url, play.flvUrl]) {
    const got = await pullFrames(url, 5);
    assert.ok(got.frames.length >= 5, `decoded ${got.frames.length} of 5 frames from ${url.split('?')[0]}\n${got.stderr.slice(-800)}`);
    for (const f of got.frames) assert.deepEqual(f, { w: 320, h: 240 });
    assert.deepEqual(got.audio, { rate: 44100, channels: 1 });
  }

  // A forged push URL and a play URL used for pushing are refused by the media server.
  for (const bad of [pushUrl.replace(/s=[^&]+/, 's=forgedforgedforged'), play.url]) {
    const p = pushTestPattern(bad.replace('.1001?', '.1001?'));
    const r = await mps.within(p.exited, 'the media server refusing the pusher').catch(() => null);
    if (!r) p.stop();
    assert.ok(r && r.code !== 0, `pusher with a bad URL was refused (${bad.split('?')[1].slice(0, 20)}...)`);
  }

  // The page forwards <live-pusher> giving up (-1307): the SDK fetches a fresh push URL and
  // says so with syncDone; a report the SDK cannot use never rejects.
  const sync = nextEvent(a, 'syncDone');
  await a.dataReporter('push', 'bindstatechange', { code: -1307, reason: '' });
  const sd = await sync;
  assert.deepEqual({ uid: sd.uid, isBigNumber: sd.isBigNumber }, { uid: 1001, isBigNumber: false });
  assert.match(sd.url, /^rtmp:\/\/127\.0\.0\.1:\d+\/live\/[A-Za-z0-9]+\.1001\?k=push/);
  mpA.expectLog(/^\[mprtc\] dataReporter ignored: /);
  await a.dataReporter('screen', 'bindstatechange', { code: 1 });

  // A leaves: B sees the stream go and the member leave, in that order.
  const left = nextEvent(b, 'clientLeave');
  await a.leave();
  const cl = await left;
  assert.equal(cl.uid, 1001);
  const names = seenByB.map((e) => e.name + (e.data.mediaType ? ':' + e.data.mediaType : ''));
  assert.deepEqual(names.slice(-3), ['stream-removed:audio', 'stream-removed:video', 'clientLeave']);
  assert.ok(!names.includes('disconnect'));
  await b.leave();
  pusher.stop();
  assert.equal(await server.stop(), 0, 'server exits cleanly on SIGTERM');
});

test('an expired push URL is refused by the media server', async (t) => {
  const server = await startServer(['--url-ttl-secs', '1']);
  t.after(() => server.stop());
  const SDK = miniProgram(t, 'pair').require('mprtc');
  const a = SDK.Client({ appkey: 'demo', server: server.endpoints.signal });
  await a.join({ channelName: 'expiry', uid: 7 });
  const watcher = miniProgram(t, 'pair').require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  await watcher.join({ channelName: 'expiry', uid: 8 });
  const url = await a.publish('video');
  await sleep(2200); // the scenario, not the verdict: the 1-second URL has run out
  const p = pushTestPattern(url);
  const r = await mps.within(p.exited, 'the media server refusing the pusher').catch(() => null);
  if (!r) p.stop();
  assert.ok(r && r.code !== 0, 'expired URL refused');
  // A fresh URL from a new publish works.
  const fresh = await a.publish('video');
  const live = videoAdded(watcher, 7);
  const ok = pushTestPattern(fresh);
  t.after(() => ok.stop());
  // Admitted: the media reaches the server, which tells the room.
  const first = await Promise.race([live.then(() => 'admitted'), ok.exited]);
  assert.equal(first, 'admitted', 'a fresh URL is admitted');
  await Promise.all([a.leave(), watcher.leave()]);
});

test('a secure app key needs a valid token', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const { execFileSync } = require('node:child_process');
  const bin = require('./support').REPO + '/target/debug/mprtc-server';
  const token = execFileSync(bin, ['token', '--app', 'secure', '--room', 'sec', '--uid', '5', '--secret', 'secure-secret', '--ttl', '60']).toString().trim();
  const SDK = miniProgram(t, 'pair').require('mprtc');
  const c = SDK.Client({ appkey: 'secure', server: server.endpoints.signal });
  await assert.rejects(c.join({ channelName: 'sec', uid: 5 }), (e) => e.code === 4011);
  await assert.rejects(c.join({ channelName: 'sec', uid: 6, token }), (e) => e.code === 4012);
  await c.join({ channelName: 'sec', uid: 5, token });
  await c.leave();
});

test('the same uid joining again replaces the first session, which hears kicked', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const mp1 = miniProgram(t, 'pair');
  const SDK1 = mp1.require('mprtc');
  const SDK2 = miniProgram(t, 'pair').require('mprtc');
  const first = SDK1.Client({ appkey: 'demo', server: server.endpoints.signal });
  const second = SDK2.Client({ appkey: 'demo', server: server.endpoints.signal });
  await first.join({ channelName: 'twice', uid: 42 });
  const kicked = nextEvent(first, 'kicked');
  let disconnected = false;
  first.on('disconnect', () => (disconnected = true));
  await second.join({ channelName: 'twice', uid: 42 });
  assert.equal((await kicked).reason, 'replaced');
  // Once its socket is gone nothing more can come: no disconnect came with it.
  await mps.waitFor(() => mp1.sockets === 0, 'the replaced session\'s socket closed');
  assert.equal(disconnected, false, 'a kick is not a network disconnect');
  await assert.rejects(first.publish(), (e) => e.code === 1002);
  assert.match(await second.publish(), /^rtmp:/);
  await second.leave();
});
