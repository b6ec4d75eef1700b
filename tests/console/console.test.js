'use strict';
// The operator console (/console) in headless Chromium against a real mprtc-server, with real
// members (the SDK in the simulated mini-program runtime) and real ffmpeg streams: the operator
// logs in, sees the room and its members, previews a stream (the <video> really plays decoded
// frames), stops a push task, kicks a member and closes the room, and each action reaches the
// members. A hostile user name shows as text and runs nothing.

const test = require('node:test');
const assert = require('node:assert/strict');
const puppeteer = require('puppeteer-core');
const { startServer, pushTestPattern, nextEvent, videoAdded } = require('../e2e/support');
const { miniProgram } = require('../e2e/mp');
const { CHROMIUM, TOKEN, consoleUrl } = require('./support');

// Markup as a user name: it must reach the page as text. If it were parsed, the image's
// onerror would set window.__xss (and a CSP report would be the only other trace).
const HOSTILE = '<img src=x onerror="window.__xss=1">';
// A user id may be any printable ASCII without spaces: markup too.
const HOSTILE_ID = '<svg/onload=window.__xss=2>';

/** The console's task in the test: member 1 composed onto a small canvas, recorded. */
function task(streamUrl) {
  return {
    taskId: 'console_mix',
    streamUrl,
    record: true,
    layout: {
      canvas: { width: 320, height: 240, color: 0x00ff00 },
      users: [{ uid: 1, x: 0, y: 0, width: 320, height: 240, adaption: 0, zOrder: 1, pushAudio: true, pushVideo: true }],
    },
    config: { audioParam: { bitRate: 64, channels: 1, codecProfile: 0, sampleRate: 44100 } },
  };
}

async function launch(t) {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Every action asks first (confirm()); the operator says yes.
  const asked = [];
  page.on('dialog', (d) => {
    asked.push(d.message());
    d.accept();
  });
  return { page, errors, asked };
}

/** Waits for `fn` (run in the page with `args`) to be truthy, 30 s at most. */
function until(page, fn, ...args) {
  return page.waitForFunction(fn, { timeout: 30000, polling: 100 }, ...args);
}

test('the console shows rooms and members, previews a stream and its actions reach the members', { timeout: 240000 }, async (t) => {
  const server = await startServer(['--console-token', TOKEN]);
  t.after(() => server.stop());
  const room = 'console' + process.pid;
  // One client per mini-program (NetEase's Client is a singleton): one runtime each.
  const client = () => miniProgram(t).require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  const [a, b, c] = [client(), client(), client()];
  await a.join({ channelName: room, uid: 1 });
  await b.join({ channelName: room, uid: 2 });
  await c.join({ channelName: room, uid: 3 });
  // The hostile name comes in through the ZEGO dialect, whose users carry names.
  const z = new (miniProgram(t).require('mprtc').ZegoExpressEngine)('demo', server.endpoints.signal);
  assert.equal(await z.loginRoom(room, '', { userID: HOSTILE_ID, userName: HOSTILE }), true);

  const pushers = [];
  t.after(() => pushers.forEach((p) => p.stop()));
  const aLive = videoAdded(b, 1);
  pushers.push(pushTestPattern(await a.publish()));
  await aLive;
  const pushing = nextEvent(a, 'rtmp-tasks-status', (s) => s.code === 505, 60000);
  await a.addTasks({ rtmpTasks: [task(await c.publish())] });

  const { page, errors, asked } = await launch(t);
  await page.goto(consoleUrl(server), { waitUntil: 'load' });
  await until(page, () => !document.getElementById('login').hidden);

  // A wrong token: the API says 401 and the page asks again.
  await page.type('#token', 'x'.repeat(40));
  await page.click('#login button[type=submit]');
  await until(page, () => /Wrong or missing token/.test(document.getElementById('login-error').textContent));

  await page.type('#token', TOKEN);
  await page.click('#login button[type=submit]');
  const members = await until(page, (r) => {
    const rows = document.querySelectorAll(`[data-room="demo/${r}"] tr[data-member]`);
    return rows.length === 4 && [...rows].map((x) => x.dataset.member.split('/')[2]);
  }, room);
  assert.equal((await members.jsonValue()).length, 4);
  // The token is kept for this tab only, and never in the URL.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mprtc.console.token')), TOKEN);
  assert.ok(!page.url().includes(TOKEN));

  // The hostile name is text: shown as typed, no element made of it, nothing ran.
  const shown = await page.$$eval('td.user-name', (tds) => tds.map((td) => td.textContent));
  assert.ok(shown.includes(HOSTILE), `names shown: ${shown}`);
  const ids = await page.$$eval('td.user-id', (tds) => tds.map((td) => td.textContent));
  assert.ok(ids.includes(HOSTILE_ID), `user ids shown: ${ids}`);
  assert.equal(await page.evaluate(() => document.querySelectorAll('img, svg').length), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  // Member 1 is live: the preview plays its stream. currentTime advances only as decoded
  // frames are rendered.
  await until(page, (r) => {
    const row = document.querySelector(`tr[data-member="demo/${r}/1"]`);
    return row && row.querySelector('td.live').textContent === 'audio+video';
  }, room);
  await page.click(`tr[data-member="demo/${room}/1"] button[data-action=preview]`);
  await until(page, () => document.getElementById('preview').currentTime > 1);
  const t1 = await page.evaluate(() => document.getElementById('preview').currentTime);
  await until(page, (was) => document.getElementById('preview').currentTime > was + 1, t1);
  const size = await page.evaluate(() => [document.getElementById('preview').videoWidth, document.getElementById('preview').videoHeight]);
  assert.deepEqual(size, [320, 240]);

  // The task: the console shows it pushing, stops it, and the members hear it end (511).
  await pushing;
  const taskRow = `tr[data-task="demo/${room}/console_mix"]`;
  await until(page, (sel) => {
    const s = document.querySelector(`${sel} td.task-status`);
    return s && s.textContent === 'pushing (505)';
  }, taskRow);
  const stopped = nextEvent(a, 'rtmp-tasks-status', (s) => s.taskId === 'console_mix' && s.code === 511, 30000);
  await page.click(`${taskRow} button[data-action=stop-task]`);
  await stopped;
  await until(page, (sel) => !document.querySelector(sel), taskRow);
  // It was recorded: the recording is listed.
  await until(page, () => [...document.querySelectorAll('#recordings tbody td')].some((td) => /^console_mix-\d+\.flv$/.test(td.textContent)));

  // Kick member 2: it hears `kicked`, and leaves the list.
  const kicked = nextEvent(b, 'kicked');
  const left = nextEvent(a, 'clientLeave', (d) => d.uid === 2);
  await page.click(`tr[data-member="demo/${room}/2"] button[data-action=kick]`);
  assert.equal((await kicked).reason, 'kicked');
  assert.equal((await left).reason, 'kicked');
  await until(page, (r) => !document.querySelector(`tr[data-member="demo/${r}/2"]`), room);

  // Close the room: the members hear `liveRoomClose`, and the room is gone from the page.
  const closed = Promise.all([nextEvent(a, 'liveRoomClose'), nextEvent(c, 'liveRoomClose')]);
  await page.click(`[data-room="demo/${room}"] button[data-action=close-room]`);
  await closed;
  await until(page, (r) => !document.querySelector(`[data-room="demo/${r}"]`), room);

  assert.deepEqual(asked, ['Stop task console_mix?', `Kick member 2 in demo/${room}?`,
    `Close room demo/${room}? Every member is sent away.`]);
  assert.deepEqual(errors, []);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});
