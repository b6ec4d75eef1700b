'use strict';
// The ZEGO seed's code, as written, against mprtc. The guide gives its code as fragments of one
// page (init, room callbacks, token fetch, login and publish, component WXML and handlers, play,
// stop); this test cuts them out of the seed verbatim and sets them into a page skeleton that
// supplies what the guide leaves to the app: the page's data. The guide's <zego-pusher> and
// <zego-player> WXML runs in the simulated runtime's component host (tests/runtime/components.js)
// with mprtc's components from pkg/, as a page that changed only its usingComponents entries;
// their native <live-pusher> / <live-player> are ffmpeg, pushing to and pulling from the real
// server. The only edits to the guide's code are the import line and the token URL (the app's
// own backend, here a small HTTP server minting mprtc tokens).
// When ../shared/seeds is not there the test says so and skips.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { miniProgram, waitFor } = require('./mp');
const { REPO, startServer, pushTestPattern, pullFrames } = require('./support');
const { findSeed, skipWithout, loggedPage } = require('./seeds');
const { mountPage } = require('../runtime/components');

// The page's usingComponents: mprtc's components where the guide has ZEGO's plugin.
const USING = { 'zego-pusher': 'mprtc/zego-pusher/index', 'zego-player': 'mprtc/zego-player/index' };

/** The guide's text, or null when the seeds are not here. */
function findGuide() {
  const seed = findSeed((text) => text.includes('new ZegoExpressEngine') && text.includes('startPublishingStream'));
  return seed && seed.text;
}

/** The guide's code between two anchors (the start anchor included), exactly as written. */
function cut(text, from, to) {
  const a = text.indexOf(from);
  assert.ok(a >= 0, `the guide has ${JSON.stringify(from)}`);
  const b = to === undefined ? text.length : text.indexOf(to, a + from.length);
  assert.ok(b > a, `the guide has ${JSON.stringify(to)} after ${JSON.stringify(from)}`);
  return text.slice(a, b).trim();
}

function fragments(text) {
  return {
    init: cut(text, '// 声明变量', '如果要实现一个完整的直播功能'),
    roomState: cut(text, "zg.on('roomStateUpdate'", '房间状态 updateType'),
    getLoginToken: cut(text, 'getLoginToken: function ()', '/**调用 `loginRoom` 登录房间'),
    loginAndPublish: cut(text, 'zgPusher = this.selectComponent("#zg-pusher");', '3.3 推流事件处理'),
    onPushStateChange: cut(text, '// zego-pusher 绑定推流事件', '// 推流后'),
    publisherStateUpdate: cut(text, '// 推流后', '  1. 微信小程序会在 zego-pusherbindnetstatus'),
    onPushNetStateChange: cut(text, '// zego-pusher 绑定网络状态事件', '// SDK 获取推流网络质量'),
    publishQualityUpdate: cut(text, '// SDK 获取推流网络质量', '3.4 停止推流'),
    stopPublishing: cut(text, '// 停止推流', '4 拉流'),
    play: cut(text, '//  通过 SDK 获取 streamID 对应的播放地址', '4.3 拉流事件处理'),
    onPlayStateChange: cut(text, '// zego-player 绑定的拉流事件', '// 服务端主动推过来的'),
    onPlayStateUpdate: cut(text, '// 服务端主动推过来的', '  1. 微信小程序会在 zego-playerbindnetstatus'),
    onPlayNetStateChange: cut(text, '// zego-player 绑定网络状态事件', '// SDK 拉流网络质量回调'),
    playQualityUpdate: cut(text, '// SDK 拉流网络质量回调', '4.4 停止拉流'),
    stopPlaying: cut(text, '// 停止拉流', '5 退出房间'),
    logout: cut(text, 'zg.logoutRoom(this.data.roomID);', '6 配置微信公众平台域名'),
    pusherWxml: cut(text, '<zego-pusher', '3.2 开始推流'),
    playerWxml: cut(text, '<zego-player', '4.2 开始拉流'),
  };
}

/** The page: the skeleton is ours, every statement inside the marked slots is the guide's. */
function pageSource(f, cfg) {
  // The two edits: the import line, and the URL of the app's own token backend.
  const init = f.init.replace(/require\("\.\.\/lib\/ZegoExpressMiniProgram-1\.6\.0"\)/, "require('mprtc')");
  assert.notEqual(init, f.init, 'the import line was found and changed');
  const getLoginToken = f.getLoginToken.replace("url: 'xxxx'", `url: '${cfg.tokenUrl}'`);
  assert.notEqual(getLoginToken, f.getLoginToken, 'the token URL was found and changed');
  return `
// ---- skeleton: the page the guide's fragments belong to (setData and selectComponent are the
// component host's, as WeChat's framework gives a page them)
const TAG_NAME = '[zego-seed]';
let zgPusher;
let zgPlayer;
const page = {
  data: ${JSON.stringify(cfg.data)},
};
function onLoad() {
  // ---- guide: 1. 初始化 SDK
  ${init}
  // ---- guide: 2.1 房间回调
  ${f.roomState}
  Object.assign(this, {
    // ---- guide: 2.2 获取登录 token
    ${getLoginToken}
    // ---- skeleton: the page method the guide's token fetch calls, around the guide's 3.2 code
    loginRoom(token) {
      ${f.loginAndPublish}
    },
    // ---- guide: 3.3 / 4.3 component handlers
    ${f.onPushStateChange}
    ${f.onPushNetStateChange}
    ${f.onPlayStateChange}
    ${f.onPlayNetStateChange}
  });
  // ---- guide: SDK callbacks of 3.3 and 4.3
  ${f.publisherStateUpdate}
  ${f.publishQualityUpdate}
  ${f.onPlayStateUpdate}
  ${f.playQualityUpdate}
  // ---- skeleton: the guide plays "streamList[0]" of a stream update; here is that update
  zg.on('roomStreamUpdate', (roomID, updateType, streamList) => {
    if (updateType !== 'ADD') return;
    const that = this;
    // ---- guide: 4.2 开始拉流
    ${f.play}
  });
  // ---- skeleton: leaving, with the guide's 3.4, 4.4 and 5
  this.leave = () => {
    ${f.stopPlaying}
    ${f.stopPublishing}
    ${f.logout}
  };
}
page.onLoad = onLoad;
module.exports = page;
`;
}

/**
 * The app's own token backend, as ZEGO's guide has the developer write one: its request names
 * only the user (`id_name`), so it mints app-wide tokens (`mprtc-server token --any-room`).
 */
function tokenBackend() {
  const bin = path.join(REPO, 'target', 'debug', 'mprtc-server');
  const server = http.createServer((req, res) => {
    const q = new URL(req.url, 'http://x').searchParams;
    const uid = q.get('id_name');
    const token = execFileSync(bin, ['token', '--app', 'secure', '--any-room', '--uid', uid, '--secret', 'secure-secret']).toString().trim();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(token);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * The native elements the components render, as ffmpeg: <live-pusher> start() pushes a test
 * pattern to its `url` and reports 1002 (push started) and a net status; <live-player> play()
 * decodes frames of its `src` and reports 2004 (play started) and a net status once it has
 * them. `pulled` gets each player's decode result.
 */
function ffmpegNatives(t, pulled) {
  const pushers = [];
  t.after(() => pushers.forEach((p) => p.stop()));
  return {
    'live-pusher': {
      start(el) {
        pushers.push(pushTestPattern(el.attrs.url));
        el.fire('statechange', { code: 1002, message: 'push started' });
        el.fire('netstatus', { info: { videoBitrate: 400, audioBitrate: 48, videoFPS: 15, netSpeed: 500 } });
      },
      stop() {
        for (const p of pushers.splice(0)) p.stop();
      },
    },
    'live-player': {
      play(el) {
        // Before startPlayingStream answers, the guide calls play() with no src yet: nothing plays.
        if (!el.attrs.src) return;
        pullFrames(el.attrs.src, 3).then((got) => {
          pulled.push(got);
          if (got.frames.length < 3) return el.fire('statechange', { code: -2301, message: 'disconnected' });
          el.fire('statechange', { code: 2004, message: 'play begin' });
          el.fire('netstatus', { info: { videoBitrate: 300, videoFPS: 15, videoWidth: got.frames[0].w, videoHeight: got.frames[0].h } });
        });
      },
    },
  };
}

test('ZEGO seed code runs unchanged but for import, token URL and usingComponents', async (t) => {
  const guide = findGuide();
  if (!guide) return skipWithout(t, 'ZEGO seed');
  const f = fragments(guide);
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'zego' + process.pid;
  const backend = await tokenBackend();
  t.after(() => backend.close());
  const tokenUrl = `http://127.0.0.1:${backend.address().port}/token`;

  const source = pageSource(f, {
    tokenUrl,
    data: {
      appID: 'secure',
      server: server.endpoints.signal,
      logUrl: '',
      roomID: room,
      userID: 'xiaoming',
      userName: 'Xiao Ming',
      pusherInfo: { streamID: 'xiaoming-cam', url: '' },
      playerInfo: { streamID: '', url: '' },
      playInfo: { streamID: '' },
      pushStreamID: 'xiaoming-cam',
      // What the guide's WXML binds, as a ZEGO demo page sets it.
      waitingImage: '', enableCamera: true, debug: false, autoFocus: true, aspect: '9:16', minBitrate: 200,
      maxBitrate: 1000, zoom: false, mode: 'RTC', muted: false, beauty: 5, whiteness: 3, orientation: 'vertical',
      objectFit: 'contain', minCache: 1, maxCache: 3, pictureInPictureMode: [],
    },
  });
  const { pkg, mp, logs, waitLog } = loggedPage(t, 'pages/live/live.js', source);
  const pulled = [];
  const page = mp.require('pages/live/live.js');
  // The guide's WXML, verbatim, rendered with mprtc's components.
  const view = mountPage(mp, { page, wxml: `${f.pusherWxml}\n${f.playerWxml}`, usingComponents: USING, natives: ffmpegNatives(t, pulled) });
  assert.equal(view.components.length, 2, 'both components are on the page');
  page.onLoad();

  // The guide's flow starts with the token fetch; it logs in, publishes and starts the pusher
  // with zgPusher.start(); the native pusher's events come back through the guide's handlers.
  page.getLoginToken();
  await waitLog('login room succeeded');
  assert.ok(logs.some((l) => l.includes('roomStateUpdate, updateType: CONNECTED')), logs.join('\n'));
  await waitLog('publisherStateUpdate PUBLISHING xiaoming-cam');
  assert.equal(page.data.publishing, true);
  const [pusherEl] = view.elements('live-pusher');
  assert.match(pusherEl.attrs.url, /^rtmp:\/\//, 'the pusher URL went from the page through <zego-pusher> to <live-pusher>');
  assert.equal(pusherEl.attrs.mode, 'RTC');
  assert.equal(pusherEl.attrs.beauty, 5, 'beauty went through');
  assert.equal(pusherEl.attrs['min-bitrate'], 200, 'minBitrate became min-bitrate');
  // The guide's publishQualityUpdate callback logs an undefined `stats` (its parameter is
  // `publishStats`), so it throws; the SDK reports the throw, which shows the event reached it.
  mp.expectLog(/^\[mprtc\] listener for "publishQualityUpdate" threw/);
  await waitLog('listener for "publishQualityUpdate" threw');

  // Another member (a second mini-program with plain engine use) publishes; the guide's
  // roomStreamUpdate plays it with zgPlayer.play(), and <zego-player>'s events carry its sid.
  const peerMp = miniProgram(t, { root: pkg.root, name: 'peer' });
  const { ZegoExpressEngine } = peerMp.require('mprtc');
  const peer = new ZegoExpressEngine('secure', server.endpoints.signal);
  const peerToken = await new Promise((res) => http.get(`${tokenUrl}?id_name=xiaohong`, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => res(b)); }));
  await peer.loginRoom(room, peerToken, { userID: 'xiaohong', userName: 'Xiao Hong' });
  const { url: peerUrl } = await peer.startPublishingStream('xiaohong-cam');
  const peerPusher = pushTestPattern(peerUrl);
  t.after(() => peerPusher.stop());

  await waitLog('startPlayingStream xiaohong-cam', 20000);
  await waitLog('onPlayStateUpdate start  xiaohong-cam', 30000);
  assert.ok(pulled.some((g) => g.frames.length >= 3), `the player decoded frames:\n${pulled.map((g) => g.stderr.slice(-600)).join('\n')}`);
  const [playerEl] = view.elements('live-player');
  assert.equal(playerEl.attrs.src, page.data.playerInfo.url, 'the play URL went through <zego-player> to <live-player src>');
  await waitLog('playQualityUpdate xiaohong-cam');

  // Recovery: the native player gives up (-2301) and the guide's onPlayStateUpdate hears the
  // stop; the native pusher gives up (-1307) and the SDK publishes again, which the guide's
  // publisherStateUpdate handler logs as requesting (the SDK's new URL comes with it).
  // (Only lines logged after each report count.)
  const logAfter = (from, needle) => waitFor(() => logs.slice(from).find((l) => l.includes(needle)), needle, 20000, () => logs.join('\n'));
  let from = logs.length;
  playerEl.fire('statechange', { code: -2301, message: 'disconnected after retries' });
  await logAfter(from, 'onPlayStateUpdate stop  xiaohong-cam');
  from = logs.length;
  pusherEl.fire('statechange', { code: -1307, message: 'push disconnected' });
  await logAfter(from, 'publisherStateUpdate NO_PUBLISH xiaoming-cam -1307');
  await logAfter(from, 'publisherStateUpdate PUBLISH_REQUESTING xiaoming-cam');

  page.data.playInfo.streamID = 'xiaohong-cam';
  page.leave();
  await waitLog('roomStateUpdate, updateType: DISCONNECTED');
  assert.ok(!logs.some((l) => l.includes('login room fail')), `the login failure branch was not taken:\n${logs.join('\n')}`);
  const threw = logs.filter((l) => l.includes('threw'));
  assert.deepEqual(threw.map((l) => l.match(/listener for "(\w+)"/)[1]), ['publishQualityUpdate'], 'only the guide\'s own slip threw');
  assert.deepEqual(mp.errors, []);
  await peer.logoutRoom(room);
  peer.destroyEngine();
});
