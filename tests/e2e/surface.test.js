'use strict';
// The public surface the other suites do not reach, through the built pkg/ in the simulated
// runtime against a real server, as an app uses it: NetEase unpublish / unsubscribe /
// renewToken, syncDone's userlist, tokenWillExpire's remainingSeconds, 1009 for calls pending
// when reconnecting gives up, and ZEGO's LOGIN_FAILED, kick codes, publishQualityUpdate and the
// older onPlayStateUpdate property.

const test = require('node:test');
const assert = require('node:assert/strict');
const { types } = require('node:util');
const { execFileSync } = require('node:child_process');
const { REPO, startServer, pushTestPattern, nextEvent, videoAdded } = require('./support');
const { startProxy } = require('./proxy');
const { miniProgram, waitFor, within } = require('./mp');

const plain = (x) => JSON.parse(JSON.stringify(x));

/** A token of the `secure` app for `uid` (a number or a ZEGO user id) in `room`. */
function token(room, uid, ttl) {
  return execFileSync(REPO + '/target/debug/mprtc-server', ['token', '--app', 'secure', '--room', room, '--uid', String(uid),
    '--secret', 'secure-secret', '--ttl', String(ttl || 600)]).toString().trim();
}

async function server(t, args) {
  const s = await startServer(args);
  t.after(() => s.stop());
  return s;
}

/** A NetEase client of app `appkey` in its own mini-program. */
const client = (t, url, appkey, more) => miniProgram(t).require('mprtc').Client(Object.assign({ appkey: appkey || 'secure', server: url }, more));

/** A ZEGO engine of the `secure` app in its own mini-program, destroyed after `t`. */
function engine(t, url) {
  const e = new (miniProgram(t).require('mprtc').ZegoExpressEngine)('secure', url);
  t.after(() => e.destroyEngine());
  return e;
}

/** The isNativeError check of a typed SDK error with `code` and `reason`. */
const typed = (code, reason) => (e) => types.isNativeError(e) && e.code === code && e.reason === reason;

test('NetEase unpublish, unsubscribe and renewToken, and the token news they answer', async (t) => {
  const s = await server(t);
  const room = 'surface-ne';
  const a = client(t, s.endpoints.signal);
  const b = client(t, s.endpoints.signal);
  await a.join({ channelName: room, uid: 1, token: token(room, 1) });
  await b.join({ channelName: room, uid: 2, token: token(room, 2) });
  const live = videoAdded(b, 1);
  const pusher = pushTestPattern(await a.publish());
  t.after(() => pusher.stop());
  await live;
  const play = await b.subscribe(1, 'video');
  assert.match(play.url, /^rtmp:\/\//);
  await b.unsubscribe(1, 'video');

  // unpublish(kind) ends that kind for the others; unpublish() the rest.
  const videoGone = nextEvent(b, 'stream-removed', (d) => d.uid === 1 && d.mediaType === 'video');
  await a.unpublish('video');
  await videoGone;
  const audioGone = nextEvent(b, 'stream-removed', (d) => d.uid === 1 && d.mediaType === 'audio');
  await a.unpublish();
  await audioGone;

  // renewToken: a token for someone else is refused; a 2-second one replaces the 10-minute
  // one, so the server warns at once and ends the session when it runs out.
  await assert.rejects(a.renewToken(token(room, 99)), (e) => types.isNativeError(e) && e.code === 4012);
  const warned = nextEvent(a, 'tokenWillExpire');
  const ended = nextEvent(a, 'kicked', null, 30000);
  await a.renewToken(token(room, 1, 2));
  const w = await warned;
  assert.ok(Number.isInteger(w.remainingSeconds) && w.remainingSeconds >= 0 && w.remainingSeconds <= 2, JSON.stringify(w));
  assert.deepEqual(plain(await ended), { reason: 'token_expired' });
  await b.leave();
});

test('syncDone also carries the news as NetEase\'s userlist', async (t) => {
  const s = await server(t);
  const a = client(t, s.endpoints.signal, 'demo');
  await a.join({ channelName: 'userlist', uid: 5 });
  await a.publish();
  const sync = nextEvent(a, 'syncDone');
  await a.dataReporter('push', 'bindstatechange', { code: -1307 });
  const d = plain(await sync);
  assert.match(d.url, /^rtmp:\/\//);
  assert.equal(d.kind, 'push');
  assert.deepEqual(d.userlist, [{ uid: 5, isBigNumber: false, url: d.url }]);
  await a.leave();
});

test('calls pending when reconnecting gives up reject with 1009, a real Error', async (t) => {
  const s = await server(t);
  const proxy = await startProxy(Number(new URL(s.endpoints.signal).port));
  t.after(() => proxy.close());
  const a = client(t, `ws://127.0.0.1:${proxy.port}/ws`, 'demo', { reconnectTimeout: 1500, requestTimeout: 60000 });
  await a.join({ channelName: 'give-up', uid: 1 });
  const trying = nextEvent(a, 'willreconnect');
  proxy.down();
  await trying;
  // Asked while the connection is away: kept for the resume, which never comes.
  const pending = [a.setRole('audience'), a.publish()];
  const failed = nextEvent(a, 'reconnectFailed', null, 30000);
  for (const p of pending) await assert.rejects(p, typed(1009, 'reconnect_failed'));
  const f = await failed;
  assert.ok(f.attempts >= 1, JSON.stringify(f));
  await assert.rejects(a.publish(), (e) => e.code === 1002, 'the session is over');
});

test('ZEGO: LOGIN_FAILED with the code, and kick-outs with 4025, 4013 and 4030', async (t) => {
  const s = await server(t);
  const room = 'surface-zg';
  const za = engine(t, s.endpoints.signal);
  const reasons = [];
  const states = [];
  za.on('roomStateChanged', (r, reason, code) => reasons.push([reason, code]));
  za.on('roomStateUpdate', (r, state, code) => states.push([state, code]));
  // A token for another user: the login fails with the server's code.
  await assert.rejects(za.loginRoom(room, token(room, 'other'), { userID: 'anna' }), typed(4012, 'token_invalid'));
  assert.deepEqual(plain(reasons), [['LOGINING', 0], ['LOGIN_FAILED', 4012]]);
  assert.deepEqual(plain(states), [['CONNECTING', 0], ['DISCONNECTED', 4012]]);

  // The same user logging in elsewhere replaces this session: KICKOUT with 4025.
  assert.equal(await za.loginRoom(room, token(room, 'anna'), { userID: 'anna' }), true);
  const replaced = new Promise((res) => za.on('roomStateChanged', (r, reason, code) => reason === 'KICKOUT' && res([code, states[states.length - 1]])));
  const zb = engine(t, s.endpoints.signal);
  assert.equal(await zb.loginRoom(room, token(room, 'anna'), { userID: 'anna' }), true);
  assert.deepEqual(plain(await within(replaced, 'the first session kicked')), [4025, ['DISCONNECTED', 4025]]);

  // A token that runs out: KICKOUT with 4013.
  const zc = engine(t, s.endpoints.signal);
  const expired = new Promise((res) => zc.on('roomStateChanged', (r, reason, code) => reason === 'KICKOUT' && res(code)));
  assert.equal(await zc.loginRoom(room, token(room, 'carl', 2), { userID: 'carl' }), true);
  assert.equal(await within(expired, 'the token running out', 30000), 4013);

  // The app's backend closes the room: KICKOUT with 4030.
  const closed = new Promise((res) => zb.on('roomStateChanged', (r, reason, code) => reason === 'KICKOUT' && res(code)));
  const base = s.endpoints.signal.replace(/^ws/, 'http').replace(/\/ws$/, '');
  const res = await fetch(`${base}/api/v1/rooms/${room}`, { method: 'DELETE', headers: { authorization: 'Basic ' + Buffer.from('secure:secure-secret').toString('base64') } });
  assert.equal(res.status, 200);
  assert.equal(await within(closed, 'the room closed'), 4030);
});

test('ZEGO: publishQualityUpdate for the own stream, onPlayStateUpdate for a played one', async (t) => {
  const s = await server(t);
  const room = 'surface-q';
  const za = engine(t, s.endpoints.signal);
  const zb = engine(t, s.endpoints.signal);
  await za.loginRoom(room, token(room, 'anna'), { userID: 'anna' });
  const added = new Promise((res) => zb.on('roomStreamUpdate', (r, type, list) => type === 'ADD' && res(list[0].streamID)));
  await zb.loginRoom(room, token(room, 'ben'), { userID: 'ben' });
  const { url } = await za.startPublishingStream('anna-cam');
  const pusher = pushTestPattern(url);
  t.after(() => pusher.stop());
  assert.equal(await within(added, 'anna\'s stream'), 'anna-cam');

  // Anna's <live-pusher> net status, forwarded whole: publishQualityUpdate with ZEGO's shape.
  const quality = [];
  za.on('publishQualityUpdate', (id, stats) => quality.push([id, stats.video.videoBitrate, stats.video.videoFPS]));
  za.updatePlayerNetStatus('anna-cam', { detail: { info: { videoBitrate: 400, videoFPS: 15 } } });
  await waitFor(() => quality.length > 0, 'publishQualityUpdate');
  assert.deepEqual(plain(quality), [['anna-cam', 400, 15]]);

  // Ben plays it; the older callback property hears 0 when it plays and 1 when it gave up.
  await zb.startPlayingStream('anna-cam');
  const calls = [];
  zb.onPlayStateUpdate = (code, streamID) => calls.push([code, streamID]);
  zb.updatePlayerState('anna-cam', { detail: { code: 2004 } });
  await waitFor(() => calls.length >= 1, 'onPlayStateUpdate playing');
  zb.updatePlayerState('anna-cam', { detail: { code: -2301 } });
  await waitFor(() => calls.length >= 2, 'onPlayStateUpdate stopped');
  assert.deepEqual(calls, [[0, 'anna-cam'], [1, 'anna-cam']]);
  await Promise.all([za.logoutRoom(room), zb.logoutRoom(room)]);
});

test('an answer the SDK cannot read rejects the call with 1006, and the session goes on', async (t) => {
  const s = await server(t);
  const proxy = await startProxy(Number(new URL(s.endpoints.signal).port));
  t.after(() => proxy.close());
  const a = client(t, `ws://127.0.0.1:${proxy.port}/ws`, 'demo');
  await a.join({ channelName: 'unreadable', uid: 1 });
  // A broken server: the publish answer has no URL.
  proxy.answerInstead('publish', '{"v":1,"re":$ID,"ok":true,"body":{"nourl":true}}');
  await assert.rejects(a.publish(), typed(1006, 'protocol_violation'));
  assert.match(await a.publish(), /^rtmp:\/\//, 'the next answer is read as ever');
  await a.leave();
});
