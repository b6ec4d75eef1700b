'use strict';
// The demo: mprtc-server with its embedded media server, and two "phones" — each a simulated
// WeChat mini-program runtime running miniprogram-demo as WeChat's tools build it (构建npm puts
// pkg/ into miniprogram_npm/, miniprogram-ci compiles the pages). Each phone fills in the join
// page and joins; on the room page ffmpeg plays the part of <live-pusher> (pushing a test
// pattern with a tone to the URL the page holds) and of <live-player> (decoding the URLs the
// page holds), and the component events go back through the page's handlers. Everything
// printed is what happened.
//
//   node scripts/demo.js              run the two phones (what scripts/demo does)
//   node scripts/demo.js --devtools   only prepare miniprogram-demo/ for WeChat DevTools:
//                                     npm install + 构建npm, so miniprogram_npm/mprtc is pkg/

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { createMiniProgram } = require('../tests/runtime');
const { REPO, startServer, pushTestPattern, pullFrames, sleep } = require('../tests/e2e/support');
const { createHost } = require('../tests/e2e/page-host');
const wechat = require('../tests/wechat-ci');

const DEMO = path.join(REPO, 'miniprogram-demo');
const ROOM = 'demo-room';

async function prepareDevtools() {
  // The demo's package.json has "mprtc": "file:../pkg": npm links it, 构建npm copies it.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], { cwd: DEMO, stdio: 'inherit' });
  await wechat.packNpm(DEMO);
  const files = wechat.listFiles(path.join(DEMO, 'miniprogram_npm', 'mprtc'));
  console.log(`miniprogram-demo/miniprogram_npm/mprtc: ${files.join(', ')}`);
  console.log('Open miniprogram-demo/ in WeChat DevTools (README: "Opening the demo in WeChat DevTools").');
}

/** The demo built by WeChat's tools, with config.js pointing at `server`. */
async function build(server) {
  const config = `module.exports = ${JSON.stringify({ appkey: 'demo', server: server.endpoints.signal, room: ROOM })};\n`;
  const project = wechat.prepareProject(DEMO, { files: { 'config.js': config } });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-demo-'));
  try {
    await wechat.packNpm(project.dir);
    const r = await wechat.compile(project.dir, path.join(out, 'dist'));
    console.log(`miniprogram-ci: 构建npm + compile of miniprogram-demo, ${r.files.length} files in the package`);
  } finally {
    project.cleanup();
  }
  return { root: path.join(out, 'dist'), cleanup: () => fs.rmSync(out, { recursive: true, force: true }) };
}

function phone(name, root, uid, media) {
  const log = (...a) => console.log(`[${name}]`, ...a);
  const sdkLog = (...a) => {
    // The page's own log lines; the SDK's debug chatter stays out of the way.
    if (a[0] === '[demo]') log('page:', ...a.slice(1));
  };
  const mp = createMiniProgram({ root, console: { log: sdkLog, info: sdkLog, warn: log, error: log, debug() {} } });
  const host = createHost(mp);
  const join = host.launch();
  log(`join page: room ${ROOM}, uid ${uid}, broadcaster, server from config.js`);
  join.onInput(host.event({ value: ROOM }, { field: 'room' }, 'input'));
  join.onInput(host.event({ value: String(uid) }, { field: 'uid' }, 'input'));
  join.onJoin();
  const room = host.top();
  const p = { name, mp, host, room, log, uid, playing: new Set(), pushing: null, tiles: null };
  p.tiles = host.mirror(room, 'players', 'components/stream-tile/stream-tile', (item) => ({
    uid: item.key, url: item.url, audio: item.audio, video: item.video, audioMuted: item.audioMuted,
    videoMuted: item.videoMuted, phase: item.phase, quality: item.quality,
  }), { playerstate: 'onPlayerState' }, 'slot');
  room.__onData((d) => media(p, d));
  return p;
}

async function main() {
  if (process.argv.includes('--devtools')) return prepareDevtools();
  const server = await startServer();
  console.log(`mprtc-server ready: signaling ${server.endpoints.signal}, RTMP ${server.endpoints.rtmp}, HTTP-FLV ${server.endpoints.flv}`);
  const built = await build(server);
  const pushers = [];
  const decoded = new Map(); // "A->1002" -> frames
  const phones = {};

  // What the components would do with the page data.
  const media = (p, d) => {
    if (d.pushUrl && p.pushing !== d.pushUrl) {
      p.pushing = d.pushUrl;
      p.log(`<live-pusher url> set: pushing the camera (ffmpeg test pattern 320x240 + 440 Hz tone) to ${d.pushUrl.split('?')[0]}`);
      pushers.push(pushTestPattern(d.pushUrl));
      setTimeout(() => {
        p.room.onPusherState(p.host.event({ code: 1002 }, {}, 'statechange'));
        p.room.onPusherNetStatus(p.host.event({ info: { videoBitrate: 480, audioBitrate: 64, videoFPS: 15, videoWidth: 320, videoHeight: 240, netQualityLevel: 1 } }, {}, 'netstatus'));
      }, 1500);
    }
    for (const pl of d.players) {
      if (!pl.url || p.playing.has(pl.key)) continue;
      p.playing.add(pl.key);
      p.log(`<live-player src> set for uid ${pl.key}: playing ${pl.url.split('?')[0]}`);
      pullFrames(pl.url, 10).then((r) => {
        const size = r.frames.length ? `${r.frames[0].w}x${r.frames[0].h}` : '-';
        const audio = r.audio ? `, audio ${r.audio.rate} Hz ${r.audio.channels === 1 ? 'mono' : 'stereo'}` : '';
        p.log(`<live-player> uid ${pl.key}: decoded ${r.frames.length} video frames at ${size}${audio}`);
        decoded.set(`${p.name}->${pl.key}`, r.frames.length);
        const tile = p.tiles.get(pl.slot);
        if (tile) {
          tile.onState(p.host.event({ code: 2004 }, {}, 'statechange'));
          tile.onNetStatus(p.host.event({ info: { videoBitrate: 450, audioBitrate: 64, videoFPS: 15, netQualityLevel: 2 } }, {}, 'netstatus'));
        }
      });
    }
  };

  let ok = false;
  try {
    phones.A = phone('phone A', built.root, 1001, media);
    await sleep(300);
    phones.B = phone('phone B', built.root, 1002, media);
    const until = Date.now() + 60000;
    while ([...decoded.values()].filter((n) => n >= 10).length < 2 && Date.now() < until) await sleep(200);
    if ([...decoded.values()].filter((n) => n >= 10).length !== 2) throw new Error(`expected both phones to decode each other's video, got ${JSON.stringify([...decoded])}`);
    await sleep(1200);
    for (const p of [phones.A, phones.B]) {
      const d = p.room.data;
      p.log(`room page: ${d.connText}; members ${d.members.map((m) => m.key + (m.self ? ' (me)' : '')).join(', ')}; pusher ${d.pusherPhase} ${d.pusherQuality}`);
      for (const pl of d.players) p.log(`room page: player ${pl.key} ${pl.phase} ${pl.quality}`);
    }
    console.log('\nphone A mutes its microphone');
    phones.A.room.onToggleMic();
    await sleep(800);
    const seen = phones.B.room.data.members.find((m) => m.key === '1001');
    phones.B.log(`room page: uid 1001 ${seen && seen.audioMuted ? 'is shown muted' : 'is not shown muted'}`);
    console.log('\nphone A leaves the room');
    await phones.A.room.onLeave();
    await sleep(1000);
    phones.B.log(`room page: members ${phones.B.room.data.members.map((m) => m.key).join(', ')}, ${phones.B.room.data.players.length} players`);
    ok = true;
  } catch (e) {
    console.error('demo failed:', e.message);
  } finally {
    for (const p of pushers) await p.stop();
    for (const p of Object.values(phones)) await p.mp.close();
    const code = await server.stop();
    console.log(`mprtc-server stopped (exit ${code})`);
    built.cleanup();
  }
  console.log(ok ? '\ndemo finished: two mini-programs joined, published, subscribed and played each other with real media' : '\ndemo FAILED');
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
