'use strict';
// <zego-pusher> and <zego-player> as pkg/ ships them: compiled by WeChat's wcc / wcsc, with a
// page that uses them the way ZEGO's guide does; and run in the simulated runtime's component
// host (tests/runtime/components.js): every attribute of the guide mapped onto the native
// element, the methods reaching the native contexts, and the native events re-emitted with
// `detail.streamID`. tests/e2e/seed-zego.test.js runs the guide's page with them against a
// real server and real media.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { wcc, wcsc } = require('./wechat-compilers');
const { createMiniProgram, layoutPackage } = require('./runtime');
const { mountPage } = require('./runtime/components');

const PKG = path.join(__dirname, '..', 'pkg');
const USING = { 'zego-pusher': 'mprtc/zego-pusher/index', 'zego-player': 'mprtc/zego-player/index' };

// A page as ZEGO's guide writes it (3.1 and 4.1), every attribute bound to the page's data.
const PAGE_WXML = `
<zego-pusher id="zg-pusher" url="{{pusherInfo.url}}" class="push-content" waitingImage="{{waitingImage}}"
  enableCamera="{{enableCamera}}" debug="{{debug}}" autoFocus="{{autoFocus}}" aspect="{{aspect}}"
  minBitrate="{{minBitrate}}" maxBitrate="{{maxBitrate}}" zoom="{{zoom}}" mode="{{mode}}" muted="{{muted}}"
  beauty="{{beauty}}" whiteness="{{whiteness}}" orientation="{{orientation}}"
  bindstatechange="onPushStateChange" bindnetstatus="onPushNetStateChange">
</zego-pusher>
<zego-player id="zg-player" sid="{{playerInfo.streamID}}" url="{{playerInfo.url}}" orientation="{{orientation}}"
  objectFit="{{objectFit}}" minCache="{{minCache}}" maxCache="{{maxCache}}" mode="{{playMode}}" muted="{{muted}}"
  debug="{{debug}}" pictureInPictureMode="{{pictureInPictureMode}}" class="play-content"
  bindstatechange="onPlayStateChange" bindnetstatus="onPlayNetStateChange">
</zego-player>
`;

function tmp(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-zc-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('the components and a page using them compile with wcc and wcsc', (t) => {
  const dir = tmp(t);
  fs.cpSync(PKG, path.join(dir, 'miniprogram_npm', 'mprtc'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'pages', 'live'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'pages/live/live.wxml'), PAGE_WXML);
  fs.writeFileSync(path.join(dir, 'pages/live/live.json'), JSON.stringify({ usingComponents: USING }));
  const files = ['miniprogram_npm/mprtc/zego-pusher/index.wxml', 'miniprogram_npm/mprtc/zego-player/index.wxml', 'pages/live/live.wxml'];
  const r = wcc(dir, files);
  assert.equal(r.status, 0, `wcc failed:\n${r.stderr}`);
  assert.ok(files.every((f) => r.stdout.includes(f)), 'each file is in the output');
  // The gate is live: a component WXML with its tag left open is refused.
  fs.writeFileSync(path.join(dir, 'bad.wxml'), fs.readFileSync(path.join(PKG, 'zego-pusher/index.wxml'), 'utf8').replace('/>', '>'));
  assert.notEqual(wcc(dir, ['bad.wxml']).status, 0, 'wcc refuses broken WXML');
  const styles = ['miniprogram_npm/mprtc/zego-pusher/index.wxss', 'miniprogram_npm/mprtc/zego-player/index.wxss'];
  const s = wcsc(dir, styles);
  assert.equal(s.status, 0, `wcsc failed:\n${s.stderr}`);
});

/** The page above on pkg/'s components in a simulated mini-program; natives record their calls. */
function mounted(t, data) {
  const pkg = layoutPackage({});
  t.after(() => pkg.cleanup());
  const mp = createMiniProgram({ root: pkg.root });
  t.after(() => mp.close());
  const calls = [];
  const record = (tag, names) => Object.fromEntries(names.map((m) => [m, (el, opts) => calls.push([tag, m, el.id, opts])]));
  const natives = {
    'live-pusher': record('live-pusher', ['start', 'stop', 'pause', 'resume', 'switchCamera', 'toggleTorch', 'snapshot']),
    'live-player': record('live-player', ['play', 'stop', 'pause', 'resume', 'mute', 'snapshot', 'requestFullScreen', 'exitFullScreen']),
  };
  const events = [];
  const page = { data };
  for (const h of ['onPushStateChange', 'onPushNetStateChange', 'onPlayStateChange', 'onPlayNetStateChange']) {
    page[h] = (e) => events.push([h, e.detail]);
  }
  const view = mountPage(mp, { page, wxml: PAGE_WXML, usingComponents: USING, natives });
  return { mp, page, view, calls, events };
}

const waitFor = (pred) => new Promise((resolve) => {
  const tick = () => (pred() ? resolve() : setImmediate(tick));
  tick();
});

test('every attribute of the guide reaches the native element, with the native defaults where unset', (t) => {
  const { page, view } = mounted(t, {
    pusherInfo: { url: '' }, playerInfo: { streamID: '', url: '' }, waitingImage: 'https://x/w.png', enableCamera: false,
    debug: true, autoFocus: false, aspect: '3:4', minBitrate: 300, maxBitrate: 900, zoom: true, mode: 'SD', muted: true,
    beauty: 6, whiteness: 2, orientation: 'horizontal', objectFit: 'fillCrop', minCache: 0.2, maxCache: 0.8, playMode: 'RTC',
    pictureInPictureMode: ['push', 'pop'],
  });
  const [pusher] = view.elements('live-pusher');
  assert.deepEqual(
    { ...pusher.attrs, style: undefined },
    {
      id: 'p', url: '', 'waiting-image': 'https://x/w.png', 'enable-camera': false, debug: true, 'auto-focus': false, aspect: '3:4',
      'min-bitrate': 300, 'max-bitrate': 900, zoom: true, mode: 'SD', muted: true, beauty: 6, whiteness: 2, orientation: 'horizontal',
      style: undefined,
    },
  );
  const [player] = view.elements('live-player');
  assert.deepEqual(
    { ...player.attrs, style: undefined },
    {
      id: 'p', src: '', orientation: 'horizontal', 'object-fit': 'fillCrop', 'min-cache': 0.2, 'max-cache': 0.8, mode: 'RTC', muted: true,
      debug: true, autoplay: false, 'picture-in-picture-mode': ['push', 'pop'], style: undefined,
    },
  );
  // setData flows through before its callback runs, as the guide's `setData(..., () => zgPusher.start())` needs.
  return new Promise((resolve) => {
    page.setData({ pusherInfo: { streamID: 's1', url: 'rtmp://h/live/s1' } }, () => {
      assert.equal(pusher.attrs.url, 'rtmp://h/live/s1');
      resolve();
    });
  });
});

test('methods reach the native contexts; native events come out with detail.streamID', async (t) => {
  const { page, view, calls, events } = mounted(t, { pusherInfo: { url: 'rtmp://h/live/a' }, playerInfo: { streamID: 'peer-cam', url: 'rtmp://h/live/b' } });
  const pusher = page.selectComponent('#zg-pusher');
  const player = page.selectComponent('#zg-player');
  assert.ok(pusher && player, 'selectComponent finds both');
  for (const m of ['start', 'pause', 'resume', 'switchCamera', 'toggleTorch', 'snapshot', 'stop']) pusher[m]();
  for (const m of ['play', 'mute', 'pause', 'resume', 'snapshot', 'requestFullScreen', 'exitFullScreen', 'stop']) player[m]();
  assert.deepEqual(calls.filter((c) => c[0] === 'live-pusher').map((c) => c[1]), ['start', 'pause', 'resume', 'switchCamera', 'toggleTorch', 'snapshot', 'stop']);
  assert.deepEqual(calls.filter((c) => c[0] === 'live-player').map((c) => c[1]), ['play', 'mute', 'pause', 'resume', 'snapshot', 'requestFullScreen', 'exitFullScreen', 'stop']);
  // A method's options reach the context with its callbacks (snapshot's success, say).
  let snapped = null;
  player.snapshot({ quality: 'raw', success: (r) => (snapped = r) });
  await waitFor(() => snapped);
  assert.equal(snapped.errMsg, 'snapshot:ok');

  const [nativePlayer] = view.elements('live-player');
  nativePlayer.fire('statechange', { code: 2004, message: 'play begin' });
  nativePlayer.fire('netstatus', { info: { videoBitrate: 300, videoFPS: 15 } });
  await waitFor(() => events.length >= 2);
  assert.deepEqual(events, [
    ['onPlayStateChange', { streamID: 'peer-cam', code: 2004, message: 'play begin' }],
    ['onPlayNetStateChange', { streamID: 'peer-cam', info: { videoBitrate: 300, videoFPS: 15 } }],
  ]);
  // A pusher without `sid` names its events with the stream this mini-program publishes (none yet: '').
  view.elements('live-pusher')[0].fire('statechange', { code: 1002, message: 'push started' });
  await waitFor(() => events.length >= 3);
  assert.deepEqual(events[2], ['onPushStateChange', { streamID: '', code: 1002, message: 'push started' }]);
});
