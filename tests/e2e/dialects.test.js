'use strict';
// Every method and event of both dialects, through the built pkg/ in the simulated runtime
// against a real server: what the seeds' sample code and the other end-to-end tests do not
// already reach. Each assertion would fail if the method or event went away.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const { REPO, startServer, pushTestPattern, nextEvent, recordEvents } = require('./support');
const { startProxy } = require('./proxy');
const { miniProgram, waitFor, marker } = require('./mp');

const plain = (x) => JSON.parse(JSON.stringify(x));

/** A server that keeps sessions `resumeMs` for a resume, and a proxy in front of it; both gone after `t`. */
async function proxiedServer(t, resumeMs) {
  const server = await startServer(['--resume-window-ms', String(resumeMs)]);
  t.after(() => server.stop());
  const p = await startProxy(Number(new URL(server.endpoints.signal).port));
  t.after(() => p.close());
  p.url = `ws://127.0.0.1:${p.port}/ws`;
  return { server, p };
}

/** The first two `event`s of ZEGO `engine` once its `stream` component reports `code`. */
async function afterComponentCode(engine, event, stream, code) {
  const seen = [];
  engine.on(event, (r) => seen.push(plain(r)));
  engine.updatePlayerState(stream, { detail: { code } });
  await waitFor(() => seen.length >= 2, `two ${event} events`, 20000, () => JSON.stringify(seen));
  return seen.slice(0, 2);
}

function token(room, uid, ttl) {
  const bin = REPO + '/target/debug/mprtc-server';
  return execFileSync(bin, ['token', '--app', 'secure', '--room', room, '--uid', String(uid), '--secret', 'secure-secret', '--ttl', String(ttl || 600)]).toString().trim();
}

function api(server, method, path) {
  const u = new URL(server.endpoints.signal.replace(/^ws/, 'http').replace(/\/ws$/, '') + path);
  return new Promise((resolve, reject) => {
    const req = http.request(u, { method, headers: { authorization: 'Basic ' + Buffer.from('secure:secure-secret').toString('base64') } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

test('NetEase dialect: singleton, join options, big uids, mute, component phases, quality, timeouts, giving up', async (t) => {
  // A short resume window: B should see A go soon after A gives up.
  const { server, p } = await proxiedServer(t, 1000);
  const room = 'ne' + process.pid;

  const SDKa = miniProgram(t).require('mprtc');
  const a = SDKa.Client({ appkey: 'demo', server: p.url, requestTimeout: 1000, reconnectTimeout: 2500 });
  assert.equal(SDKa.Client({ appkey: 'other' }), a, 'one client per mini-program');
  // Options NetEase apps pass: what mprtc cannot do is refused by name (the pushed mix's
  // recording, mixed-only member recording); member recording travels to the server (which
  // lets this insecure app record: insecure_apps_record); the rest accepted.
  await assert.rejects(a.join({ channelName: room, uid: 1, rtmpRecord: 1 }), (e) => e.code === 1010 && e.reason === 'unsupported' && /recording/.test(e.message));
  await assert.rejects(a.join({ channelName: room, uid: 1, recordAudio: 1, recordType: 1 }), (e) => e.code === 1010 && /recordType/.test(e.message));
  await a.join({ channelName: room, uid: 1, recordVideo: 1, recordType: 2 });
  await a.leave();
  await assert.rejects(a.join({ channelName: room, uid: 1, isHostSpeaker: true }), (e) => e.code === 1010);
  await assert.rejects(a.join({ channelName: room, uid: 1, liveEnable: 7 }), (e) => e.code === 1001);
  await assert.rejects(a.join({ channelName: room, uid: 1, liveEnable: NaN }), (e) => e.code === 1001, 'NaN is no flag');
  await a.join({ channelName: room, uid: BigInt('9007199254740993'), liveEnable: 1, recordType: '0', recordAudio: 0, recordVideo: 0, isHostSpeaker: 0 });

  const b = miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  const bSeen = recordEvents(b, ['clientJoin', 'mute-audio', 'unmute-audio', 'mute-video', 'unmute-video', 'clientLeave']);
  // A bignumber.js-like uid.
  await b.join({ channelName: room, uid: { toFixed: () => '12345' } });
  const aSeen = recordEvents(a, ['pusher-state', 'player-state', 'quality', 'sendCommandOverTime', 'willreconnect', 'reconnectFailed', 'disconnect']);
  const big = '9007199254740993';
  assert.deepEqual(plain(bSeen[0].data), { uid: big, isBigNumber: true });

  // Mute and unmute reach the other member, per kind.
  await a.publish();
  await a.mute('audio');
  await a.mute('video');
  await a.unmute();
  // A's marker (its audio muted again) comes after them: the list is whole by then.
  await marker(a, b);
  assert.deepEqual(bSeen.slice(1).map((e) => [e.name, e.data.uid]), [['mute-audio', big], ['mute-video', big], ['unmute-audio', big], ['unmute-video', big], ['mute-audio', big]]);

  // The pusher's state codes become phases; its net status becomes (rate-limited) quality.
  await a.dataReporter('push', 'bindstatechange', { code: 1002, message: 'push started' });
  await a.dataReporter('push', 'bindnetstatus', { info: { videoBitrate: '512', netSpeed: 600 } });
  await a.dataReporter('push', 'bindnetstatus', { info: { videoBitrate: 513 } });
  // The player of B's stream, on B's side.
  const bPhase = nextEvent(b, 'player-state', (d) => d.phase === 'active');
  await b.subscribe(big, 'video');
  await b.dataReporter('pull', 'bindstatechange', { code: 2004 }, big);
  assert.deepEqual(plain(await bPhase), { uid: big, isBigNumber: true, phase: 'active', code: 2004 });
  // A report's events are emitted before its dataReporter() resolves: A's list is whole.
  const named = (n) => aSeen.filter((e) => e.name === n).map((e) => plain(e.data));
  assert.deepEqual(named('pusher-state'), [{ phase: 'requesting', code: 0 }, { phase: 'active', code: 1002 }]);
  // The first sample always passes, parsed; whether the second (a second later at the earliest)
  // does is the clock's call, so it is tested in virtual time in src/core/tests/dialects.rs.
  const quality = named('quality');
  assert.deepEqual(quality[0], { kind: 'push', uid: big, isBigNumber: true, videoBitrate: 512, netSpeed: 600 });
  assert.ok(quality.length <= 2, JSON.stringify(quality));

  // A call that gets no answer: 1004 and sendCommandOverTime.
  p.stall();
  await assert.rejects(a.setRole('audience'), (e) => e.code === 1004 && e.reason === 'timeout');
  assert.deepEqual(named('sendCommandOverTime'), [{ command: 'setRole' }]);
  // The network goes for good: the heartbeat notices, reconnecting gives up within its budget.
  p.down();
  const gone = await nextEvent(a, 'disconnect', null, 40000);
  assert.equal(typeof gone.code, 'number');
  const failed = named('reconnectFailed');
  assert.equal(failed.length, 1);
  assert.ok(failed[0].elapsedMs <= 2500 && failed[0].attempts >= 1, JSON.stringify(failed[0]));
  assert.ok(named('willreconnect').length >= 1);
  await assert.rejects(a.publish(), (e) => e.code === 1002, 'the session is over');

  // SDK.destroy() ends the shared client; Client then makes a new one.
  SDKa.destroy();
  assert.notEqual(SDKa.Client({ appkey: 'demo', server: server.endpoints.signal }), a);
  // B saw A go once the server's resume window (1 s here) was over.
  await waitFor(() => bSeen.some((e) => e.name === 'clientLeave'), 'B seeing A go');
  assert.deepEqual(plain(bSeen.find((e) => e.name === 'clientLeave').data), { uid: big, isBigNumber: true, reason: 'connection_lost' });
  await b.leave();
});

test('ZEGO dialect: room states and reasons, users, streams, mute, tokens, kick-out, logout', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'zg' + process.pid;
  const { ZegoExpressEngine } = miniProgram(t).require('mprtc');
  const za = new ZegoExpressEngine('secure', server.endpoints.signal);
  assert.equal(typeof za.getVersion(), 'string');
  assert.equal(za.setLogConfig({ logLevel: 'debug' }), true);
  za.setDebugVerbose(false);
  za.setUserStateUpdate(true);
  const states = [];
  const reasons = [];
  za.on('roomStateUpdate', (r, s, code) => states.push([r, s, code]));
  za.on('roomStateChanged', (r, reason, code) => reasons.push([reason, code]));
  const users = [];
  za.on('roomUserUpdate', (r, type, list) => users.push([type, list.map((u) => u.userID + '/' + u.userName)]));
  const streams = [];
  za.on('roomStreamUpdate', (r, type, list) => streams.push([type, list.map((s) => `${s.streamID}@${s.user.userID}`)]));
  const dropped = () => streams.push(['never']);
  za.on('roomStreamUpdate', dropped);
  za.off('roomStreamUpdate', dropped);
  const expiring = [];
  za.on('tokenWillExpire', (r) => expiring.push(r));

  // A 20-second token: the server warns 30 s ahead, so at once; renewToken takes a fresh one.
  assert.equal(await za.loginRoom(room, token(room, 'anna', 20), { userID: 'anna', userName: 'Anna' }), true);
  assert.deepEqual(plain(states), [[room, 'CONNECTING', 0], [room, 'CONNECTED', 0]]);
  assert.deepEqual(plain(reasons.map((r) => r[0])), ['LOGINING', 'LOGINED']);
  await waitFor(() => expiring.length > 0, 'tokenWillExpire');
  assert.deepEqual(plain(expiring), [room]);
  assert.equal(await za.renewToken(token(room, 'anna', 600), room), true);

  // Ben joins (ZEGO too, another mini-program) and publishes; Anna sees him and his stream by
  // their own ids. A NetEase client in the same room sees Ben's mutes.
  const zb = new (miniProgram(t).require('mprtc').ZegoExpressEngine)('secure', server.endpoints.signal);
  await zb.loginRoom(room, token(room, 'ben', 600), { userID: 'ben', userName: 'Ben' });
  const watcher = miniProgram(t).require('mprtc').Client({ appkey: 'secure', server: server.endpoints.signal });
  await watcher.join({ channelName: room, uid: 77, token: token(room, 77) });
  const muted = nextEvent(watcher, 'mute-audio');
  const { streamID, url } = await zb.startPublishingStream('ben-cam');
  assert.equal(streamID, 'ben-cam');
  const pusher = pushTestPattern(url);
  t.after(() => pusher.stop());
  await waitFor(() => streams.length > 0, 'Ben\'s stream');
  assert.deepEqual(plain(streams), [['ADD', ['ben-cam@ben']]]);
  assert.deepEqual(plain(users[0]), ['ADD', ['ben/Ben']]);
  assert.equal(await zb.mutePublishStreamAudio(true), true);
  await muted;
  assert.equal(await zb.mutePublishStreamVideo(false), true);

  // Playing: by stream id; an unknown stream is refused with a typed error.
  const play = await za.startPlayingStream('ben-cam');
  assert.match(play.url, /^rtmp:\/\//);
  assert.match(play.flvUrl, /^http:\/\//);
  await assert.rejects(za.startPlayingStream('nobody-cam'), (e) => e.code === 4024);
  const playerStates = [];
  za.on('playerStateUpdate', (r) => playerStates.push([r.streamID, r.state, r.errorCode]));
  const quality = [];
  za.on('playQualityUpdate', (id, stats) => quality.push([id, stats.video.videoBitrate]));
  za.updatePlayerState('ben-cam', { detail: { code: 2004 } });
  za.updatePlayerNetStatus('ben-cam', { detail: { info: { videoBitrate: 321 } } });
  await waitFor(() => playerStates.length > 0 && quality.length > 0, 'the player\'s state and quality');
  assert.deepEqual(plain(playerStates), [['ben-cam', 'PLAYING', 2004]]);
  assert.deepEqual(plain(quality), [['ben-cam', 321]]);
  assert.equal(await za.stopPlayingStream('ben-cam'), true);

  // Ben's own publisher states.
  const pubStates = [];
  zb.on('publisherStateUpdate', (r) => pubStates.push([r.streamID, r.state]));
  zb.updatePlayerState('ben-cam', { detail: { code: 1002 } });
  await waitFor(() => pubStates.length > 0, 'Ben\'s publisher state');
  // Stopping the stream removes it for Anna.
  await zb.stopPublishingStream('ben-cam');
  await waitFor(() => streams.length >= 2, 'Ben\'s stream removed');
  assert.deepEqual(plain(streams[1]), ['DELETE', ['ben-cam@ben']]);
  assert.deepEqual(plain(pubStates), [['ben-cam', 'PUBLISHING'], ['ben-cam', 'NO_PUBLISH']]);

  // The app's backend kicks Ben: DISCONNECTED with the kick's code, KICKOUT as the reason.
  const benStates = [];
  zb.on('roomStateChanged', (r, reason, code) => benStates.push([reason, code]));
  // The server API names ZEGO members by their user id.
  assert.equal(await api(server, 'POST', `/api/v1/rooms/${room}/members/ben/kick`), 200);
  await waitFor(() => benStates.length > 0, 'Ben kicked');
  assert.deepEqual(plain(benStates), [['KICKOUT', 4030]]);
  await waitFor(() => users.length >= 3, 'Ben gone from the users');
  // A NetEase member has no user id of its own: ZEGO apps see its uid as the id.
  assert.deepEqual(plain(users), [['ADD', ['ben/Ben']], ['ADD', ['77/']], ['DELETE', ['ben/Ben']]]);

  // A NetEase member's stream has no stream id of its own: ZEGO apps see (and play) it by uid.
  const watcherUrl = await watcher.publish();
  const watcherPush = pushTestPattern(watcherUrl);
  t.after(() => watcherPush.stop());
  await waitFor(() => streams.some((x) => x[0] === 'ADD' && x[1][0] === '77@77'), 'the NetEase member\'s stream');
  assert.deepEqual(plain(streams[streams.length - 1]), ['ADD', ['77@77']]);
  assert.match((await za.startPlayingStream('77')).url, /^rtmp:\/\/.*\.77\?/);
  watcherPush.stop();
  assert.equal(await za.logoutRoom(room), true);
  assert.deepEqual(plain(states[states.length - 1]), [room, 'DISCONNECTED', 0]);
  assert.equal(reasons[reasons.length - 1][0], 'LOGOUT');
  za.destroyEngine();
  zb.destroyEngine();
  await watcher.leave();
});

test('ZEGO dialect: recovered components bring their new URLs; reconnecting shows in the room state', async (t) => {
  const { server, p } = await proxiedServer(t, 5000);
  const room = 'zr' + process.pid;
  const { ZegoExpressEngine } = miniProgram(t).require('mprtc');
  const za = new ZegoExpressEngine('secure', p.url, { reconnectTimeout: 1500 });
  const zb = new (miniProgram(t).require('mprtc').ZegoExpressEngine)('secure', server.endpoints.signal);
  await zb.loginRoom(room, token(room, 'ben'), { userID: 'ben' });
  const { url } = await zb.startPublishingStream('ben-cam');
  const pusher = pushTestPattern(url);
  t.after(() => pusher.stop());
  const added = new Promise((res) => za.on('roomStreamUpdate', (r, type) => type === 'ADD' && res()));
  await za.loginRoom(room, token(room, 'anna'), { userID: 'anna' });
  await added;
  const play = await za.startPlayingStream('ben-cam');

  // <live-player> gave up (-2301): NO_PLAY, then the SDK's fresh URL with PLAY_REQUESTING.
  const players = await afterComponentCode(za, 'playerStateUpdate', 'ben-cam', -2301);
  assert.deepEqual(players[0], { streamID: 'ben-cam', state: 'NO_PLAY', errorCode: -2301, extendedData: '' });
  assert.equal(players[1].state, 'PLAY_REQUESTING');
  assert.match(players[1].url, /^rtmp:\/\//);
  assert.equal(players[1].url.split('?')[0], play.url.split('?')[0], 'the same stream, signed again');

  // <live-pusher> gave up (-1307): likewise for the publisher.
  const pubs = await afterComponentCode(zb, 'publisherStateUpdate', 'ben-cam', -1307);
  assert.deepEqual(pubs[0], { streamID: 'ben-cam', state: 'NO_PUBLISH', errorCode: -1307, extendedData: '' });
  assert.equal(pubs[1].state, 'PUBLISH_REQUESTING');
  assert.match(pubs[1].url, /^rtmp:\/\//);

  // The connection drops and comes back: RECONNECTING, then RECONNECTED; then it goes for good.
  const reasons = [];
  za.on('roomStateChanged', (r, reason, code) => reasons.push([reason, code]));
  const states = [];
  za.on('roomStateUpdate', (r, state) => states.push(state));
  p.cut();
  await waitFor(() => reasons.length >= 2, 'reconnecting and reconnected');
  assert.deepEqual(plain(reasons.slice(0, 2)), [['RECONNECTING', 0], ['RECONNECTED', 0]]);
  assert.deepEqual(plain(states.slice(0, 2)), ['CONNECTING', 'CONNECTED']);
  p.down();
  await waitFor(() => reasons.some((r) => r[0] === 'RECONNECT_FAILED'), 'giving up', 30000);
  const failed = reasons.find((r) => r[0] === 'RECONNECT_FAILED');
  assert.ok(failed && typeof failed[1] === 'number', JSON.stringify(reasons));
  assert.equal(states[states.length - 1], 'DISCONNECTED');
  za.destroyEngine();
  zb.destroyEngine();
});
