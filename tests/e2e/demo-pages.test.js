'use strict';
// The demo mini-program's pages run: miniprogram-demo is built as DevTools builds it (构建npm
// puts pkg/ into miniprogram_npm, the compile turns the sources into what ships), and that
// output runs in two simulated phones against a real mprtc-server, with ffmpeg standing in for
// <live-pusher> (pushing to the URL the page holds) and <live-player> (decoding the URLs the
// page holds). Component events are fed to the page and component handlers as WeChat would
// deliver them; everything checked is the page data those handlers and the SDK's events produce.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const { createMiniProgram } = require('../runtime');
const { REPO, startServer, pushColor, grabFrame, near } = require('./support');
const { miniProgram, watchedConsole, waitFor, within } = require('./mp');
const { createHost, waitData } = require('./page-host');
const wechat = require('../wechat-ci');

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const GREEN = [0, 255, 0];
const SERVER_BIN = process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'debug', 'mprtc-server');

function mintToken(room, uid) {
  return execFileSync(SERVER_BIN, ['token', '--app', 'secure', '--secret', 'secure-secret', '--room', room, '--uid', String(uid), '--ttl', '600']).toString().trim();
}

function api(signal, method, p) {
  const u = new URL(signal.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, auth: 'secure:secure-secret' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The demo, built by miniprogram-ci with its config.js pointing at `server`, in a temp dir. */
async function buildDemo(t, server) {
  const config = `module.exports = ${JSON.stringify({ appkey: 'secure', server: server.endpoints.signal, room: 'demo-room' })};\n`;
  const project = wechat.prepareProject(path.join(REPO, 'miniprogram-demo'), { files: { 'config.js': config } });
  t.after(() => project.cleanup());
  await wechat.packNpm(project.dir);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-demo-build-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const root = path.join(out, 'dist');
  await wechat.compile(project.dir, root);
  return root;
}

/** One phone: a runtime over the built demo, with the page host; its console is watched (mp.js). */
function phone(t, root, name) {
  let mp = null;
  const watched = watchedConsole(t, name, () => mp.errors, () => mp.close());
  mp = createMiniProgram({ root, hideCloseDelayMs: 300, console: watched.console });
  t.after(() => mp.close());
  const host = createHost(mp);
  return { mp, host, name, lines: watched.lines };
}

/** Fills the join form through its input handlers and joins; resolves with the room page. */
function joinThroughForm(p, form) {
  const join = p.host.launch();
  for (const [field, value] of Object.entries(form)) join.onInput(p.host.event({ value }, { field }, 'input'));
  join.onJoin();
  const room = p.host.top();
  assert.equal(room.route, 'pages/room/room', `${p.name}: join opened the room page (error: ${join.data.error})`);
  return { join, room };
}

// Page data lives in the mini-program's realm; compare it as the view gets it, as JSON.
const plain = (v) => JSON.parse(JSON.stringify(v));

const tileProps = (item) => ({
  uid: item.key, url: item.url, audio: item.audio, video: item.video, audioMuted: item.audioMuted,
  videoMuted: item.videoMuted, phase: item.phase, quality: item.quality,
});

test('the demo pages, built by WeChat\'s tools, run a room with two phones against a real server', { timeout: 240000 }, async (t) => {
  // With the development token endpoint on, the join page's token button works.
  const server = await startServer(['--debug-token-endpoint']);
  t.after(() => server.stop());
  const root = await buildDemo(t, server);
  const roomName = 'demo' + process.pid;
  const pushers = new Map();
  t.after(() => { for (const p of pushers.values()) p.stop(); });
  // <live-pusher>: pushes a colour to whatever URL the page holds, restarting when it changes.
  const camera = (who, page, color) => {
    const url = page.data.pushUrl;
    const old = pushers.get(who);
    if (old && old.url === url) return;
    if (old) old.stop();
    if (url) pushers.set(who, Object.assign(pushColor(url, color), { url }));
    else pushers.delete(who);
  };

  const A = phone(t, root, 'A');
  const B = phone(t, root, 'B');
  const uidA = 1001;
  const uidB = 2002;

  // ---- join page: validation, the debug token fetch, a typed-in token, the language switch
  const joinB = B.host.launch();
  joinB.onToggleLang();
  assert.equal(joinB.data.lang, 'en');
  assert.equal(joinB.data.t.join, 'Join');
  joinB.onInput(B.host.event({ value: 'x1' }, { field: 'uid' }, 'input'));
  joinB.onJoin();
  assert.equal(B.host.top(), joinB, 'a bad uid does not navigate');
  assert.equal(joinB.data.error, joinB.data.t.badUid);
  joinB.onInput(B.host.event({ value: roomName }, { field: 'room' }, 'input'));
  joinB.onInput(B.host.event({ value: String(uidB) }, { field: 'uid' }, 'input'));
  await joinB.onFetchToken();
  assert.equal(joinB.data.notice, joinB.data.t.tokenFetched);
  assert.ok(joinB.data.form.token.length > 20, 'a token came back');
  // B joins with the fetched token.
  joinB.onJoin();
  const roomB = B.host.top();
  assert.equal(roomB.route, 'pages/room/room');
  assert.deepEqual(B.host.storage.get('mprtc-demo.lang'), '"en"');

  // A joins in Chinese (the phone's language) with a wrong token first: the page says why.
  let { join: joinA, room: roomA } = joinThroughForm(A, { room: roomName, uid: String(uidA), token: mintToken(roomName, 999) });
  await waitData(roomA, (d) => d.conn === 'failed', 'a failed join');
  assert.match(roomA.data.error, /4012/);
  assert.equal(roomA.data.connText, roomA.data.t.conn_failed);
  await roomA.onLeave();
  assert.equal(A.host.top(), joinA, 'back to the join page');
  joinA.onInput(A.host.event({ value: mintToken(roomName, uidA) }, { field: 'token' }, 'input'));
  joinA.onJoin();
  roomA = A.host.top();
  const tiles = (p, page) => p.host.mirror(page, 'players', 'components/stream-tile/stream-tile', tileProps, { playerstate: 'onPlayerState' }, 'slot');
  const tilesA = tiles(A, roomA);
  const tilesB = tiles(B, roomB);
  const tileOf = (map, page, uid) => map.get(playerOf(page.data, uid).slot);

  // ---- both publish; each page holds its push URL and a player for the other
  const pushUrlOf = (uid) => new RegExp(`^rtmp://127\\.0\\.0\\.1:\\d+/live/[A-Za-z0-9]+\\.${uid}\\?`);
  await waitData(roomA, (d) => pushUrlOf(uidA).test(d.pushUrl), 'push URL');
  await waitData(roomB, (d) => pushUrlOf(uidB).test(d.pushUrl), 'push URL');
  assert.equal(roomA.data.connText, '已连接');
  assert.equal(roomB.data.connText, 'Connected');
  camera('A', roomA, 'red');
  camera('B', roomB, 'blue');
  const playerOf = (d, uid) => d.players.find((p) => p.key === String(uid));
  await waitData(roomA, (d) => d.players.length === 1 && playerOf(d, uidB) && playerOf(d, uidB).url && playerOf(d, uidB).video && playerOf(d, uidB).audio, 'a player for B');
  await waitData(roomB, (d) => d.players.length === 1 && playerOf(d, uidA) && playerOf(d, uidA).url, 'a player for A');
  assert.match(playerOf(roomA.data, uidB).url, new RegExp(`^rtmp://127\\.0\\.0\\.1:\\d+/live/[A-Za-z0-9]+\\.${uidB}\\?`));
  const members = (d) => plain(d.members).map((m) => `${m.key}${m.self ? ' self' : ''}${m.audio ? ' audio' : ''}${m.video ? ' video' : ''}`).sort();
  assert.deepEqual(members(roomA.data), [`${uidA} self audio video`, `${uidB} audio video`]);
  assert.deepEqual(members(roomB.data), [`${uidA} audio video`, `${uidB} self audio video`]);
  // <live-player>: the URL each page plays shows the other phone's camera.
  const seenByA = await grabFrame(playerOf(roomA.data, uidB).url);
  assert.ok(near(seenByA.cell(160, 120), BLUE), `A plays B (blue): ${seenByA.cell(160, 120)}`);
  const seenByB = await grabFrame(playerOf(roomB.data, uidA).url);
  assert.ok(near(seenByB.cell(160, 120), RED), `B plays A (red): ${seenByB.cell(160, 120)}`);
  assert.equal(tilesA.size, 1, 'one stream-tile on A');

  // ---- component events reach the SDK through the bridge, and its answers reach the page
  roomA.onPusherState(A.host.event({ code: 1002, message: 'push started' }, {}, 'statechange'));
  roomA.onPusherNetStatus(A.host.event({ info: { videoBitrate: 500, audioBitrate: 64, videoFPS: 15, videoWidth: 320, videoHeight: 240, netQualityLevel: 1 } }, {}, 'netstatus'));
  await waitData(roomA, (d) => d.pusherQuality === '564 kbps · 15 fps · 320x240 · 网络 极好' && d.pusherPhase === 'active', 'pusher quality and phase');
  const tileB = tileOf(tilesA, roomA, uidB);
  tileB.onState(A.host.event({ code: 2004 }, {}, 'statechange'));
  tileB.onNetStatus(A.host.event({ info: { videoBitrate: '300', audioBitrate: '48', videoFPS: '14.6', netQualityLevel: '3' } }, {}, 'netstatus'));
  await waitData(roomA, (d) => playerOf(d, uidB).quality === '348 kbps · 15 fps · 网络 一般' && playerOf(d, uidB).phase === 'active', 'player quality and phase');
  assert.equal(tileB.data.quality, '348 kbps · 15 fps · 网络 一般', 'the tile shows it');
  assert.ok(roomA.data.log.some((l) => l === `live-player ${uidB} 2004`), 'the tile told the page');

  // <live-pusher> gives up (-1307): the page forwards it and gets a fresh push URL (syncDone).
  pushers.get('A').stop();
  pushers.delete('A');
  const oldPush = roomA.data.pushUrl;
  roomA.onPusherState(A.host.event({ code: -1307 }, {}, 'statechange'));
  assert.equal(roomA.data.pusherHint, roomA.data.t.pushRecovering);
  await waitData(roomA, (d) => d.pushUrl && d.pushUrl !== oldPush, 'a fresh push URL');
  assert.match(roomA.data.pushUrl, pushUrlOf(uidA));
  assert.equal(roomA.data.pusherHint, '');
  camera('A', roomA, 'red');
  // A's camera stopped meanwhile, so B dropped its player; it comes back with A's new push.
  await waitData(roomB, (d) => playerOf(d, uidA) && playerOf(d, uidA).url, 'a player for A again');
  // <live-player> gives up (-2301): the tile forwards it and the page gets a fresh play URL.
  // (The URL may be the same string when it is minted in the same second; the page makes a new
  // tile, so a new <live-player>, either way.)
  const oldTile = tileOf(tilesB, roomB, uidA);
  oldTile.onState(B.host.event({ code: -2301 }, {}, 'statechange'));
  await waitData(roomB, (d) => playerOf(d, uidA) && playerOf(d, uidA).url && playerOf(d, uidA).gen === 1, 'a fresh play URL');
  assert.ok(roomB.data.log.includes(`new play URL for uid ${uidA}`));
  assert.notEqual(tileOf(tilesB, roomB, uidA), oldTile, 'a new tile');
  const again = await grabFrame(playerOf(roomB.data, uidA).url);
  assert.ok(near(again.cell(160, 120), RED), 'B plays A from the new URL after A pushes again');

  // ---- microphone and camera: the component attributes at once, the others through the SDK
  roomA.onToggleMic();
  roomA.onToggleCamera();
  assert.deepEqual([roomA.data.micMuted, roomA.data.cameraOff], [true, true], 'muted / enable-camera set locally');
  await waitData(roomB, (d) => { const m = d.members.find((x) => x.key === String(uidA)); return m.audioMuted && m.videoMuted; }, 'A muted, seen by B');
  await waitData(roomB, (d) => playerOf(d, uidA).audioMuted && playerOf(d, uidA).videoMuted, 'the tile flags');
  assert.equal(tileOf(tilesB, roomB, uidA).data.audioMuted, true);
  roomA.onToggleMic();
  roomA.onToggleCamera();
  assert.deepEqual([roomA.data.micMuted, roomA.data.cameraOff], [false, false]);
  await waitData(roomB, (d) => { const m = d.members.find((x) => x.key === String(uidA)); return !m.audioMuted && !m.videoMuted; }, 'A unmuted, seen by B');

  // ---- <live-pusher> errors: camera permission denied, then granted in the settings
  roomA.onPusherError(A.host.event({ errCode: 10001, errMsg: 'camera authorization denied' }, {}, 'error'));
  assert.deepEqual([roomA.data.pusherHint, roomA.data.needSetting], [roomA.data.t.cameraDenied, true]);
  roomA.onOpenSetting();
  await waitData(roomA, (d) => d.pusherHint === '' && !d.needSetting, 'the hint cleared after settings');

  // ---- role: audience drops the pusher and B's player; broadcaster brings both back. B's
  // camera keeps pushing to the old URL, as a <live-pusher> slow to notice would: the server
  // ends that push itself.
  const bCamera = pushers.get('B');
  await roomB.onToggleRole();
  assert.deepEqual([roomB.data.role, roomB.data.pushUrl], ['audience', '']);
  const ended = await within(bCamera.exited, 'the server ending B\'s push', 30000);
  assert.notEqual(ended.code, 0, `the server ended B's push: ${ended.stderr.slice(-300)}`);
  pushers.delete('B');
  await waitData(roomA, (d) => !playerOf(d, uidB), 'B\'s player removed');
  await waitData(roomA, (d) => d.members.find((m) => m.key === String(uidB)).role === 'audience', 'B shown as audience');
  await roomB.onToggleRole();
  assert.equal(roomB.data.role, 'broadcaster');
  assert.match(roomB.data.pushUrl, pushUrlOf(uidB));
  camera('B', roomB, 'blue');
  await waitData(roomA, (d) => playerOf(d, uidB) && playerOf(d, uidB).url, 'B\'s player back');

  // ---- live page: a 2-user preset on green, pushed into a third member's stream
  const C = miniProgram(t, { root, name: 'C' });
  const c = C.require('mprtc').Client({ appkey: 'secure', server: server.endpoints.signal });
  await c.join({ channelName: roomName, uid: 3003, token: mintToken(roomName, 3003) });
  const mixUrl = await c.publish();
  roomA.onLive();
  const live = A.host.top();
  assert.equal(live.route, 'packageLive/pages/live/live');
  assert.deepEqual(plain(live.data.uids), [uidA, uidB], 'publishing members, this one first');
  live.onColorPick(A.host.event({ value: 2 }, {}, 'change'));
  assert.equal(live.data.color, '#00FF00');
  await live.onStart();
  assert.equal(live.data.error, live.data.t.badStreamUrl, 'a stream URL is needed');
  live.onInput(A.host.event({ value: mixUrl }, { field: 'streamUrl' }, 'input'));
  live.onPreset(A.host.event({}, { n: 2 }));
  await live.onStart();
  assert.equal(live.data.error, '');
  await waitData(live, (d) => d.status && d.status.code === 505 && d.running, 'task status 505', 40000);
  assert.equal(live.data.statusText, '推流中');
  // Everyone in the room sees the composition as member 3003's stream.
  await waitData(roomA, (d) => playerOf(d, 3003) && playerOf(d, 3003).url && playerOf(d, 3003).video, 'the mix as a player', 30000);
  const mix = await grabFrame(playerOf(roomA.data, 3003).url, { skip: 10 });
  assert.deepEqual([mix.width, mix.height], [1280, 720]);
  assert.ok(near(mix.cell(320, 360), RED), `left is A: ${mix.cell(320, 360)}`);
  assert.ok(near(mix.cell(960, 360), BLUE), `right is B: ${mix.cell(960, 360)}`);
  assert.ok(near(mix.cell(640, 40), GREEN), `background is green: ${mix.cell(640, 40)}`);
  // A bad field is refused before anything is sent, and named.
  live.onInput(A.host.event({ value: 'bad id!' }, { field: 'taskId' }, 'input'));
  await live.onUpdate();
  assert.match(live.data.error, /rtmpTasks\[0\]\.taskId/);
  live.onInput(A.host.event({ value: 'live_1' }, { field: 'taskId' }, 'input'));
  await live.onStop();
  await waitData(live, (d) => d.status.code === 511 && !d.running, 'task status 511', 20000);
  assert.ok(live.data.history.some((l) => / live_1: 505 /.test(l)) && live.data.history.some((l) => / live_1: 511 /.test(l)));
  A.host.wx.navigateBack();
  assert.equal(A.host.top(), roomA);
  await c.leave();
  await waitData(roomA, (d) => !playerOf(d, 3003), 'the mix player gone');

  // ---- B goes to the background: the socket dies, the SDK resumes on return, the page follows
  B.mp.hideApp();
  assert.equal(roomB.data.background, true);
  assert.equal(roomB.data.connText, roomB.data.t.conn_background);
  await waitFor(() => B.mp.suspended, 'B past hideCloseDelayMs: socket closed, JS suspended');
  B.mp.showApp();
  await waitData(roomB, (d) => !d.background && d.conn === 'connected' && d.log.some((l) => /connection back/.test(l)), 'back and reconnected');
  assert.ok(playerOf(roomB.data, uidA) && playerOf(roomB.data, uidA).url, 'still playing A');
  assert.equal(roomB.data.connText, 'Connected');

  // ---- the server ends sessions: B kicked, then the room closed under A
  const kickB = await api(server.endpoints.signal, 'POST', `/api/v1/rooms/${roomName}/members/${uidB}/kick`);
  assert.equal(kickB.status, 200, kickB.body);
  await waitData(roomB, (d) => d.conn === 'kicked' && d.ended, 'kicked');
  assert.deepEqual(plain([roomB.data.pushUrl, roomB.data.players, roomB.data.connText]), ['', [], 'Removed from the room']);
  assert.deepEqual(B.host.modals.slice(-1), [{ title: 'Notice', content: 'You were removed from the room' }]);
  assert.equal(tilesB.size, 0, 'B\'s tiles detached');
  await waitData(roomA, (d) => !playerOf(d, uidB) && !d.members.some((m) => m.key === String(uidB)), 'B gone from A');
  assert.ok(roomA.data.log.includes(`uid ${uidB} left (kicked)`));
  const close = await api(server.endpoints.signal, 'DELETE', `/api/v1/rooms/${roomName}`);
  assert.equal(close.status, 200, close.body);
  await waitData(roomA, (d) => d.conn === 'closed' && d.ended, 'room closed');
  assert.equal(roomA.data.connText, '房间已关闭');
  assert.deepEqual(A.host.modals.slice(-1), [{ title: '提示', content: '房间已被关闭' }]);
  await roomA.onLeave();
  assert.equal(A.host.top(), joinA, 'back on the join page');
  assert.deepEqual(A.mp.errors, [], 'no uncaught errors on A');
  assert.deepEqual(B.mp.errors, [], 'no uncaught errors on B');
});
