'use strict';
// The simulated runtime's wx.connectSocket and app hide/show, and the shim's UTF-8 polyfill.
// Run: cd tests && node --test runtime-sockets.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { SHIM, sleep, until, withMp, wsServer } = require('./runtime-support');
// ----------------------------------------------------------------------------------------- sockets
const SOCKET_HELPER = `
  module.exports = function (url, log, opts) {
    var t = wx.connectSocket(Object.assign({ url: url,
      success: function (r) { log.push('success:' + r.errMsg); },
      fail: function (r) { log.push('fail:' + r.errMsg); } }, opts || {}));
    t.onOpen(function (r) { log.push('open:' + typeof r.header); });
    t.onMessage(function (r) { log.push('message:' + (typeof r.data === 'string' ? r.data : 'bin' + r.data.byteLength + ':' + (r.data instanceof ArrayBuffer))); });
    t.onClose(function (r) { log.push('close:' + r.code + ':' + r.reason); });
    t.onError(function (r) { log.push('error:' + r.errMsg); });
    return t;
  };`;

test('wx.connectSocket: real WebSocket with WeChat-shaped SocketTask', async () => {
  const srv = await wsServer((ws) => {
    ws.on('message', (d, bin) => {
      if (bin) ws.send(d, { binary: true });
      else if (d.toString() === 'bye') ws.close(4001, 'server says bye');
      else ws.send('echo:' + d);
    });
  });
  try {
    await withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
      const open = mp.require('s.js');
      const log = [];
      const t = open(srv.url, log, { header: { 'X-Test': '1' }, protocols: [] });
      const early = [];
      t.send({ data: 'too early', fail: (r) => early.push(r.errMsg) });
      await until(() => log.includes('open:object'), 'open');
      assert.match(early[0], /not connected/);
      assert.equal(log[0], 'success:connectSocket:ok');
      assert.equal(mp.sockets, 1);
      const sent = [];
      t.send({ data: 'hi', success: (r) => sent.push(r.errMsg) });
      const ab = mp.evaluate('module.exports = new Uint8Array([1,2,3]).buffer;');
      t.send({ data: ab });
      await until(() => log.includes('message:echo:hi') && log.includes('message:bin3:true'), 'echo');
      assert.deepEqual(sent, ['sendSocketMessage:ok']);
      t.send({ data: 'bye' });
      await until(() => log.some((l) => l.startsWith('close:')), 'close');
      assert.ok(log.includes('close:4001:server says bye'), log.join('\n'));
      assert.equal(mp.sockets, 0);

      const log2 = [];
      const t2 = open(srv.url, log2);
      await until(() => log2.includes('open:object'), 'open 2');
      const badClose = [];
      t2.close({ code: 1006, fail: (r) => badClose.push(r.errMsg) });
      t2.close({ code: 4000, reason: 'client done' });
      await until(() => srv.conns[1].closeInfo, 'server sees close');
      assert.deepEqual(srv.conns[1].closeInfo, { code: 4000, reason: 'client done' });
      await until(() => log2.some((l) => l.startsWith('close:4000')), 'client close');
      assert.match(badClose[0], /1000, or between 3000 and 4999/);
    });
  } finally {
    await srv.close();
  }
});

test('wx.connectSocket: at most 5 at once; the 6th fails via fail + onError; a bad url fails', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
      const open = mp.require('s.js');
      const logs = [];
      const tasks = [];
      for (let i = 0; i < 5; i++) {
        logs.push([]);
        tasks.push(open(srv.url, logs[i]));
      }
      assert.equal(mp.sockets, 5);
      const log6 = [];
      open(srv.url, log6);
      await until(() => log6.length >= 2, '6th socket failure');
      assert.match(log6[0], /^fail:connectSocket:fail .*max/);
      assert.match(log6[1], /^error:connectSocket:fail .*max/);
      await until(() => srv.open() === 5, 'five server connections');
      await sleep(30);
      assert.equal(srv.conns.length, 5);
      tasks[0].close({});
      await until(() => mp.sockets === 4, 'one closed');
      const log7 = [];
      open(srv.url, log7);
      await until(() => log7.includes('open:object'), '7th opens after one closed');
      const logBad = [];
      open('http://127.0.0.1:1/ws', logBad);
      await until(() => logBad.length >= 2, 'bad url');
      assert.match(logBad[0], /fail:connectSocket:fail invalid url/);
    });
  } finally {
    await srv.close();
  }
});

test('wx.connectSocket: refused connection reports onError then onClose', () =>
  withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
    const log = [];
    mp.require('s.js')('ws://127.0.0.1:1/ws', log);
    await until(() => log.some((l) => l.startsWith('close:')), 'close after refusal');
    assert.ok(log.some((l) => l.startsWith('error:')), log.join('\n'));
    assert.equal(mp.sockets, 0);
  }));

test('hideApp closes sockets after the delay and suspends callbacks until showApp', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, { hideCloseDelayMs: 100 }, async (mp) => {
      const box = mp.evaluate(`
        var box = { events: [] };
        wx.onAppHide(function () { box.events.push('hide'); });
        wx.onAppShow(function (r) { box.events.push('show:' + r.scene); });
        module.exports = box;`);
      const log = [];
      mp.require('s.js')(srv.url, log);
      await until(() => log.includes('open:object'), 'open');
      mp.hideApp();
      assert.deepEqual([...box.events], ['hide']);
      await until(() => srv.conns[0].closeInfo, 'server sees the socket die');
      assert.equal(mp.sockets, 0);
      assert.equal(mp.suspended, true);
      // A 1 ms timer set while suspended: its host timer is due long before the 120 ms wait
      // below ends (Node runs timers in the order they fall due), so only the suspension can
      // be holding it.
      const timerBox = mp.evaluate('var b = {}; setTimeout(function () { b.fired = true; }, 1); module.exports = b;');
      await sleep(120);
      assert.equal(timerBox.fired, undefined, 'timers are held while suspended');
      assert.ok(!log.some((l) => l.startsWith('close:')), 'onClose is held while suspended');
      const failLog = [];
      mp.require('s.js')(srv.url, failLog);
      mp.showApp();
      await until(() => log.some((l) => l.startsWith('close:')) && timerBox.fired, 'held callbacks after show');
      assert.ok(log.includes('close:1006:interrupted'), log.join('\n'));
      assert.deepEqual([...box.events], ['hide', 'show:1001']);
      await until(() => failLog.length >= 1, 'connect while suspended failed');
      assert.match(failLog[0], /fail:connectSocket:fail interrupted/);
    });
  } finally {
    await srv.close();
  }
});

test('showApp before the delay keeps sockets; offAppHide removes listeners', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, { hideCloseDelayMs: 80 }, async (mp) => {
      const box = mp.evaluate(`
        var box = { n: 0 };
        function h() { box.n++; }
        wx.onAppHide(h);
        box.off = function () { wx.offAppHide(h); };
        module.exports = box;`);
      const log = [];
      mp.require('s.js')(srv.url, log);
      await until(() => log.includes('open:object'), 'open');
      mp.hideApp();
      mp.showApp();
      // The 80 ms close timer, had show not cancelled it, falls due before this 120 ms one.
      await sleep(120);
      assert.equal(mp.sockets, 1);
      assert.equal(srv.open(), 1);
      box.off();
      mp.hideApp();
      mp.showApp();
      assert.equal(box.n, 1);
    });
  } finally {
    await srv.close();
  }
});

// --------------------------------------------------------------------------- text-codec polyfill
test('text-codec polyfill matches the platform UTF-8 codec', () =>
  withMp({ 'tc.js': fs.readFileSync(path.join(SHIM, 'text-codec.js'), 'utf8') }, {}, (mp) => {
    const { TextEncoder: TE, TextDecoder: TD } = mp.require('tc.js');
    const strings = ['', 'hello', 'héllo wörld', '中文频道', '😀 emoji 🎉', 'a\u0000b', '\ud800 lone', 'x\udc00', '\udc00\udc00\ud800',
      '\ud83d\ude00\ud83d', '\u07ff\u0800\uffff', 'x'.repeat(20000) + '中'];
    for (let i = 0; i < 300; i++) {
      let s = '';
      for (let j = 0; j < 20; j++) s += String.fromCharCode(Math.floor(Math.random() * 0x10000));
      strings.push(s);
    }
    const te = new TE();
    for (const s of strings) {
      const ours = Buffer.from(te.encode(s));
      assert.deepEqual(ours, Buffer.from(new TextEncoder().encode(s)), JSON.stringify(s));
      // As the glue decodes: a view into the wasm's memory, BOM kept.
      const mem = new (mp.global.Uint8Array)(ours.length + 8);
      mem.set(ours, 5);
      assert.equal(new TD('utf-8', { ignoreBOM: true }).decode(mem.subarray(5, 5 + ours.length)), new TextDecoder().decode(ours));
    }
    assert.equal(new TD().decode(Buffer.from([0xef, 0xbb, 0xbf, 0x41])), '\ufeffA');
    assert.equal(new TD().decode(new Uint8Array([0x41, 0xe4, 0xb8, 0xad]).buffer), 'A中');
    assert.equal(new TD().decode(), '');
    // The wasm only writes valid UTF-8; anything else is refused, not guessed at.
    for (const bad of [[0xe0, 0x80, 0x80], [0xc3], [0xff, 0x41], [0xed, 0xa0, 0x80]]) {
      assert.throws(() => new TD().decode(Buffer.from(bad)), (e) => e.name === 'TypeError', Buffer.from(bad).toString('hex'));
    }
  }));
