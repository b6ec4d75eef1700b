'use strict';
// The ZEGO seed's code, as written, against mprtc. The guide gives its code as fragments of one
// page (init, room callbacks, token fetch, login and publish, component handlers, play, stop);
// this test cuts them out of the seed verbatim and sets them into a page skeleton that supplies
// what the guide leaves to the app: the page's data, setData and the two components. The only
// edits to the guide's code are the import line and the token URL (the app's own backend,
// here a small HTTP server minting mprtc tokens). Real server, real media (ffmpeg as the
// components), both branches the guide cares about: publishing and playing.
// When ../shared/seeds is not there the test says so and skips.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { miniProgram } = require('./mp');
const { REPO, startServer, pushTestPattern, pullFrames } = require('./support');
const { findSeed, skipWithout, loggedPage } = require('./seeds');

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
// ---- skeleton: the page the guide's fragments belong to
const TAG_NAME = '[zego-seed]';
let zgPusher;
let zgPlayer;
const components = {
  '#zg-pusher': { start() { console.log('zego-pusher start ' + page.data.pusherInfo.url); }, stop() { console.log('zego-pusher stop'); } },
  '#zg-player': { play() { console.log('zego-player play ' + page.data.playerInfo.url); }, stop() { console.log('zego-player stop'); } },
};
const page = {
  data: ${JSON.stringify(cfg.data)},
  setData(d, cb) { Object.assign(this.data, d); if (cb) cb(); },
  selectComponent(id) { return components[id]; },
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
onLoad.call(page);
module.exports = page;
`;
}

/** The app's own token backend, as ZEGO's guide has the developer write one. */
function tokenBackend(room) {
  const bin = path.join(REPO, 'target', 'debug', 'mprtc-server');
  const server = http.createServer((req, res) => {
    const q = new URL(req.url, 'http://x').searchParams;
    const uid = q.get('id_name');
    const token = execFileSync(bin, ['token', '--app', 'secure', '--room', room, '--uid', uid, '--secret', 'secure-secret']).toString().trim();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(token);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('ZEGO seed code runs unchanged but for import and token URL', async (t) => {
  const guide = findGuide();
  if (!guide) return skipWithout(t, 'ZEGO seed');
  const f = fragments(guide);
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'zego' + process.pid;
  const backend = await tokenBackend(room);
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
    },
  });
  const { pkg, mp, logs, waitLog } = loggedPage(t, 'pages/live/live.js', source);

  const page = mp.require('pages/live/live.js');
  // The guide's flow starts with the token fetch; it logs in, publishes and starts the pusher.
  page.getLoginToken();
  await waitLog('login room succeeded');
  const started = await waitLog('zego-pusher start rtmp://');
  const pushUrl = started.match(/rtmp:\/\/\S+/)[0];
  assert.ok(logs.some((l) => l.includes('roomStateUpdate, updateType: CONNECTED')), logs.join('\n'));
  const pusher = pushTestPattern(pushUrl);
  t.after(() => pusher.stop());
  // <zego-pusher> reports that it pushes; the guide forwards it and sets `publishing`.
  page.onPushStateChange({ detail: { code: 1002, message: 'push started' } });
  await waitLog('publisherStateUpdate PUBLISHING xiaoming-cam');
  assert.equal(page.data.publishing, true);
  page.onPushNetStateChange({ detail: { code: 0, message: '', info: { videoBitrate: 400, netSpeed: 500 } } });
  // The guide's publishQualityUpdate callback logs an undefined `stats` (its parameter is
  // `publishStats`), so it throws; the SDK reports the throw, which shows the event reached it.
  mp.expectLog(/^\[mprtc\] listener for "publishQualityUpdate" threw/);
  await waitLog('listener for "publishQualityUpdate" threw');

  // Another member (a second mini-program with plain engine use) publishes; the guide's
  // roomStreamUpdate plays it.
  const peerMp = miniProgram(t, { root: pkg.root, name: 'peer' });
  const { ZegoExpressEngine } = peerMp.require('mprtc');
  const peer = new ZegoExpressEngine('secure', server.endpoints.signal);
  const peerToken = await new Promise((res) => http.get(`${tokenUrl}?id_name=xiaohong`, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => res(b)); }));
  await peer.loginRoom(room, peerToken, { userID: 'xiaohong', userName: 'Xiao Hong' });
  const { url: peerUrl } = await peer.startPublishingStream('xiaohong-cam');
  const peerPusher = pushTestPattern(peerUrl);
  t.after(() => peerPusher.stop());

  const playing = await waitLog('startPlayingStream xiaohong-cam', 20000);
  const playUrl = playing.match(/rtmp:\/\/\S+/)[0];
  await waitLog('zego-player play rtmp://');
  const got = await pullFrames(playUrl, 3);
  assert.ok(got.frames.length >= 3, `decoded ${got.frames.length} frames\n${got.stderr.slice(-600)}`);
  // <zego-player> reports it plays, with its streamID in the detail as ZEGO's component does.
  page.onPlayStateChange({ detail: { code: 2004, message: 'play begin', streamID: 'xiaohong-cam' } });
  await waitLog('onPlayStateUpdate start');
  page.onPlayNetStateChange({ detail: { streamID: 'xiaohong-cam', info: { videoBitrate: 300, videoFPS: 15 } } });
  await waitLog('playQualityUpdate xiaohong-cam');

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
