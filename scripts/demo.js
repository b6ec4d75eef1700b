'use strict';
// The demo: mprtc-server with its embedded media server, and two "phones" — each a simulated
// WeChat mini-program runtime running miniprogram-demo's room page on the built pkg/. ffmpeg
// plays the part of <live-pusher> (pushing a test pattern with a tone to the page's push URL)
// and of <live-player> (decoding what the page plays). Everything printed is what happened.

const fs = require('node:fs');
const path = require('node:path');
const { createMiniProgram, layoutPackage } = require('../tests/runtime');
const { REPO, startServer, pushTestPattern, pullFrames, sleep } = require('../tests/e2e/support');

const DEMO = path.join(REPO, 'miniprogram-demo');
const ROOM = 'demo-room';

function demoFiles(server) {
  const files = {};
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'miniprogram_npm') walk(p);
      } else files[path.relative(DEMO, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(DEMO);
  files['config.js'] = `module.exports = ${JSON.stringify({ appkey: 'demo', server: server.endpoints.signal, room: ROOM })};\n`;
  return files;
}

function phone(name, root, uid, onData) {
  const log = (...a) => console.log(`[${name}]`, ...a);
  const mp = createMiniProgram({ root, console: { log, info: log, warn: log, error: log, debug() {} } });
  mp.require('pages/room/room.js');
  const def = mp.pages[mp.pages.length - 1];
  const page = Object.assign(Object.create(def), {
    data: JSON.parse(JSON.stringify(def.data)),
    setData(patch) {
      Object.assign(this.data, patch);
      onData(this.data);
    },
  });
  page.onLoad({ room: ROOM, uid: String(uid) });
  return { mp, page, log };
}

async function main() {
  const server = await startServer();
  console.log(`mprtc-server ready: signaling ${server.endpoints.signal}, RTMP ${server.endpoints.rtmp}, HTTP-FLV ${server.endpoints.flv}`);
  const pkg = layoutPackage({ files: demoFiles(server) });
  const pushers = [];
  const played = new Map(); // "viewer->uid" -> result
  const phones = {};

  const watch = (name) => {
    let pushing = false;
    const playing = new Set();
    return (data) => {
      const p = phones[name];
      if (data.pushUrl && !pushing) {
        pushing = true;
        p.log(`<live-pusher> pushing camera (ffmpeg test pattern 320x240 + 440 Hz tone) to ${data.pushUrl.split('?')[0]}`);
        pushers.push(pushTestPattern(data.pushUrl));
      }
      for (const pl of data.players) {
        if (playing.has(pl.uid)) continue;
        playing.add(pl.uid);
        p.log(`<live-player> playing uid ${pl.uid} from ${pl.url.split('?')[0]}`);
        pullFrames(pl.url, 10).then((r) => {
          const size = r.frames.length ? `${r.frames[0].w}x${r.frames[0].h}` : '-';
          const audio = r.audio ? `, audio ${r.audio.rate} Hz ${r.audio.channels === 1 ? 'mono' : 'stereo'}` : '';
          p.log(`<live-player> uid ${pl.uid}: decoded ${r.frames.length} video frames at ${size}${audio}`);
          played.set(`${name}->${pl.uid}`, r);
        });
      }
    };
  };

  let ok = false;
  try {
    phones.A = phone('phone A', pkg.root, 1001, watch('A'));
    await sleep(300);
    phones.B = phone('phone B', pkg.root, 1002, watch('B'));
    const until = Date.now() + 60000;
    while (played.size < 2 && Date.now() < until) await sleep(200);
    const good = [...played.values()].filter((r) => r.frames.length >= 10);
    if (good.length !== 2) throw new Error(`expected both phones to decode each other's video, got ${played.size} results`);
    console.log('\nphone A leaves the room');
    phones.A.page.onUnload();
    await sleep(1000);
    ok = true;
  } catch (e) {
    console.error('demo failed:', e.message);
  } finally {
    for (const p of pushers) await p.stop();
    for (const p of Object.values(phones)) await p.mp.close();
    const code = await server.stop();
    console.log(`mprtc-server stopped (exit ${code})`);
    pkg.cleanup();
  }
  console.log(ok ? '\ndemo finished: two mini-programs joined, published, subscribed and played each other with real media' : '\ndemo FAILED');
  process.exit(ok ? 0 : 1);
}

main();
