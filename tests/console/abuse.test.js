'use strict';
// The console against hostile or careless callers, over plain HTTP to a real mprtc-server: it is
// absent without an operator token; without the token (or with an app's credentials) its API
// answers 401 and guessing is throttled like the server API's (the page's files do not reset
// the count); its answers carry no secret; every answer carries the strict headers.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { REPO, startServer, pushTestPattern, nextEvent, videoAdded } = require('../e2e/support');
const { miniProgram } = require('../e2e/mp');
const { TOKEN, METRICS_TOKEN, base } = require('./support');

/** A secret a CDN push URL would carry: the console shows scheme and host only. */
const CDN_SECRET = 'txSecret-of-the-cdn-0123456789';

function secureToken(room, uid) {
  return execFileSync(REPO + '/target/debug/mprtc-server',
    ['token', '--app', 'secure', '--room', room, '--uid', String(uid), '--secret', 'secure-secret', '--ttl', '600'])
    .toString().trim();
}

async function get(server, path, auth, method) {
  const res = await fetch(base(server) + path, { method: method || 'GET', headers: auth ? { authorization: auth } : {} });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const bearer = (t) => 'Bearer ' + t;

test('without a console token there is no console, a metrics token opens none', async (t) => {
  const server = await startServer(['--metrics-token', METRICS_TOKEN]);
  t.after(() => server.stop());
  assert.equal((await get(server, '/console')).status, 404);
  assert.equal((await get(server, '/console/api/overview', bearer(TOKEN))).status, 404);
  assert.equal((await get(server, '/console/api/overview', bearer(METRICS_TOKEN))).status, 404);
});

test('the console token and the metrics token each open only their own door', async (t) => {
  const server = await startServer(['--console-token', TOKEN, '--metrics-token', METRICS_TOKEN]);
  t.after(() => server.stop());
  assert.equal((await get(server, '/console/api/overview', bearer(TOKEN))).status, 200);
  assert.equal((await get(server, '/metrics', bearer(METRICS_TOKEN))).status, 200);
  // The scraper's token cannot act, and the console's cannot scrape.
  const kick = await get(server, '/console/api/apps/secure/rooms/r/members/1/kick', bearer(METRICS_TOKEN), 'POST');
  assert.equal(kick.status, 401, kick.text);
  assert.equal((await get(server, '/console/api/overview', bearer(METRICS_TOKEN))).status, 401);
  assert.equal((await get(server, '/metrics', bearer(TOKEN))).status, 401);
});

test('no or wrong credentials get 401, guessing gets 429, and the page files do not reset the count', async (t) => {
  const server = await startServer(['--console-token', TOKEN, '--metrics-token', METRICS_TOKEN]);
  t.after(() => server.stop());
  const basic = 'Basic ' + Buffer.from('secure:secure-secret').toString('base64');
  const wrong = [undefined, bearer(''), bearer(TOKEN + 'x'), bearer(TOKEN.slice(1)), basic, 'bearer ' + TOKEN];
  for (const auth of wrong) {
    const r = await get(server, '/console/api/overview', auth);
    assert.equal(r.status, 401, `${auth}: ${r.text}`);
    assert.equal(JSON.parse(r.text).reason, 'token_invalid');
    // A successful answer from the page's files in between counts for nothing.
    assert.equal((await get(server, '/console/console.js')).status, 200);
  }
  // The actions refuse alike, and do nothing.
  assert.equal((await get(server, '/console/api/apps/secure/rooms/r/members/1/kick', bearer('nope'), 'POST')).status, 401);
  assert.equal((await get(server, '/console/api/apps/secure/rooms/r', undefined, 'DELETE')).status, 401);
  assert.equal((await get(server, '/console/api/apps/secure/rooms/r/tasks/t', basic, 'DELETE')).status, 401);
  assert.equal((await get(server, '/console/api/apps/secure/rooms/r/members/1/preview', bearer('nope'))).status, 401);
  // That was 10 failures within the minute: the address is locked out, the right token too.
  const locked = await get(server, '/console/api/overview', bearer(TOKEN));
  assert.equal(locked.status, 429, locked.text);
  assert.ok(Number(locked.headers.get('retry-after')) > 0);
  assert.equal(JSON.parse(locked.text).reason, 'limit_exceeded');
  // The lock is the server API's and /metrics' too: one throttle per address.
  assert.equal((await get(server, '/metrics', bearer(METRICS_TOKEN))).status, 429);
  assert.equal((await get(server, '/api/v1/rooms/r/tasks', basic)).status, 429);
});

test('answers carry no secret, every answer has the strict headers, and bad requests get typed errors', { timeout: 120000 }, async (t) => {
  const server = await startServer(['--console-token', TOKEN]);
  t.after(() => server.stop());
  const room = 'abuse' + process.pid;
  const join = async (uid) => {
    const c = miniProgram(t).require('mprtc').Client({ appkey: 'secure', server: server.endpoints.signal });
    const token = secureToken(room, uid);
    await c.join({ channelName: room, uid, token });
    return { c, token };
  };
  const a = await join(1);
  const b = await join(2);
  const pushers = [];
  t.after(() => pushers.forEach((p) => p.stop()));
  const live = videoAdded(b.c, 1);
  const pushUrl = await a.c.publish();
  pushers.push(pushTestPattern(pushUrl));
  await live;
  // A task whose output carries a CDN's secret (it fails to connect; that is fine here).
  const status = nextEvent(a.c, 'rtmp-tasks-status', (s) => s.taskId === 'leaky', 30000);
  await a.c.addTasks({ rtmpTasks: [{
    taskId: 'leaky', streamUrl: `rtmp://127.0.0.1:1/live/key?txSecret=${CDN_SECRET}`, record: false,
    layout: { canvas: { width: 320, height: 240, color: 0 }, users: [{ uid: 1, x: 0, y: 0, width: 320, height: 240, adaption: 0, zOrder: 1, pushAudio: true, pushVideo: true }] },
    config: { audioParam: { bitRate: 64, channels: 1, codecProfile: 0, sampleRate: 44100 } },
  }] });
  await status;

  const o = await get(server, '/console/api/overview', bearer(TOKEN));
  assert.equal(o.status, 200, o.text);
  const body = JSON.parse(o.text);
  const r = body.rooms.find((x) => x.room === room);
  assert.deepEqual(r.members.map((m) => [m.uid, m.role, m.live]),
    [['1', 'broadcaster', { audio: true, video: true }], ['2', 'broadcaster', { audio: false, video: false }]]);
  assert.deepEqual(r.tasks.map((x) => [x.taskId, x.output]), [['leaky', 'rtmp://127.0.0.1']]);
  assert.deepEqual(body.apps.find((x) => x.key === 'secure'), { key: 'secure', insecure: false, webhooks: 0 });
  // No app secret, operator token, join token, signed media URL or CDN secret, anywhere.
  const pushQuery = pushUrl.split('?')[1];
  for (const secret of ['secure-secret', TOKEN, a.token, b.token, CDN_SECRET, pushQuery, 'k=push', 'k=play']) {
    assert.ok(!o.text.includes(secret), `the overview leaks ${secret}`);
  }

  // The preview URL is the one signed thing handed out: a play URL for the console's viewer.
  const p = await get(server, `/console/api/apps/secure/rooms/${room}/members/1/preview`, bearer(TOKEN));
  assert.equal(p.status, 200, p.text);
  const flv = new URL(JSON.parse(p.text).flv);
  assert.equal(flv.searchParams.get('k'), 'play');
  assert.equal(flv.origin, new URL(server.endpoints.flv).origin);
  // Typed errors: a member that sends nothing, no such room, a uid that is not a number.
  const typed = async (path, method, status, reason) => {
    const res = await get(server, path, bearer(TOKEN), method);
    assert.equal(res.status, status, `${path}: ${res.text}`);
    assert.equal(JSON.parse(res.text).reason, reason, path);
  };
  await typed(`/console/api/apps/secure/rooms/${room}/members/2/preview`, 'GET', 404, 'no_such_member');
  await typed('/console/api/apps/secure/rooms/nope/members/1/kick', 'POST', 404, 'no_such_room');
  await typed(`/console/api/apps/secure/rooms/${room}/members/1%3Cscript%3E/kick`, 'POST', 400, 'invalid_params');
  await typed(`/console/api/apps/secure/rooms/${room}/tasks/nope`, 'DELETE', 404, 'no_such_task');
  await typed('/console/api/apps/%3Cimg%3E/rooms/r', 'DELETE', 404, 'no_such_room');

  // The strict headers on the page, its files and the API's answers, refusals included.
  for (const [path, auth] of [['/console', null], ['/console/console.js', null], ['/console/mpegts.js', null],
    ['/console/api/overview', bearer(TOKEN)], ['/console/api/overview', null]]) {
    const res = await get(server, path, auth);
    const csp = res.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self';/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe/, path);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('cache-control'), 'no-store', path);
  }
  // The page has no inline script: every <script> names a file of the console.
  const html = (await get(server, '/console')).text;
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 2);
  for (const [, attrs, inline] of scripts) {
    assert.match(attrs, /src="\/console\/[a-z]+\.js"/);
    assert.equal(inline.trim(), '');
  }
  // The secret-free log: the operator token never reaches the server's log.
  assert.ok(!server.logs.some((l) => l.includes(TOKEN)), 'the log names the operator token');
});
