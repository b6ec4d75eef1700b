'use strict';
// wx.connectSocket: real WebSockets with WeChat's limits (at most maxSockets, close codes,
// reasons, no connecting while suspended) and its SocketTask callbacks.

const WebSocket = require('ws');

/** wx.connectSocket for one mini-program, the set of live tasks, and wx's callback helper. */
function makeSockets(rt) {
  const { C, opts, dispatch, later } = rt;
  const tasks = new Set(); // live (connecting or open) tasks

  function callbacks(o, okMsg, failMsg) {
    o = o || {};
    if (failMsg) {
      const res = { errMsg: failMsg };
      later('fail callback', () => typeof o.fail === 'function' && o.fail(res));
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    } else {
      const res = { errMsg: okMsg };
      later('success callback', () => typeof o.success === 'function' && o.success(res));
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    }
  }

  function toContextArrayBuffer(buf) {
    const ab = new C.ArrayBuffer(buf.length);
    new C.Uint8Array(ab).set(buf);
    return ab;
  }

  function makeTask() {
    const handlers = { open: [], message: [], close: [], error: [] };
    const task = {
      ws: null,
      state: 'connecting', // connecting | open | closing | closed
      emit(kind, res) {
        for (const h of handlers[kind].slice()) dispatch(`SocketTask.on${kind[0].toUpperCase()}${kind.slice(1)}`, () => h(res));
      }
    };
    const api = new C.Object();
    api.onOpen = (cb) => void handlers.open.push(cb);
    api.onMessage = (cb) => void handlers.message.push(cb);
    api.onClose = (cb) => void handlers.close.push(cb);
    api.onError = (cb) => void handlers.error.push(cb);
    api.send = (o) => {
      o = o || {};
      if (task.state !== 'open') return callbacks(o, null, 'sendSocketMessage:fail WebSocket is not connected');
      let data = o.data;
      if (typeof data !== 'string') {
        const tag = Object.prototype.toString.call(data);
        if (tag !== '[object ArrayBuffer]') return callbacks(o, null, 'sendSocketMessage:fail data must be a string or an ArrayBuffer');
        data = Buffer.from(new Uint8Array(data));
      }
      task.ws.send(data, (err) =>
        err ? callbacks(o, null, `sendSocketMessage:fail ${err.message}`) : callbacks(o, 'sendSocketMessage:ok')
      );
    };
    api.close = (o) => {
      o = o || {};
      const code = o.code === undefined ? 1000 : o.code;
      const reason = o.reason === undefined ? '' : String(o.reason);
      if (task.state === 'closing' || task.state === 'closed') return callbacks(o, null, 'closeSocket:fail WebSocket is not connected');
      if (!(code === 1000 || (code >= 3000 && code <= 4999))) {
        return callbacks(o, null, `closeSocket:fail The code must be either 1000, or between 3000 and 4999. ${code} is neither.`);
      }
      if (Buffer.byteLength(reason) > 123) return callbacks(o, null, 'closeSocket:fail The reason must not be greater than 123 UTF-8 bytes');
      if (!task.ws) return callbacks(o, null, 'closeSocket:fail WebSocket is not connected');
      const wasConnecting = task.state === 'connecting';
      task.state = 'closing';
      task.userClose = { code, reason };
      if (wasConnecting) task.ws.terminate();
      else task.ws.close(code, reason);
      callbacks(o, 'closeSocket:ok');
    };
    task.api = api;
    return task;
  }

  function connectSocket(o) {
    o = o || {};
    const task = makeTask();
    const failNow = (msg) => {
      task.state = 'closed';
      callbacks(o, null, msg);
      setImmediate(() => task.emit('error', { errMsg: msg }));
      return task.api;
    };
    if (rt.suspended) return failNow('connectSocket:fail interrupted');
    if (typeof o.url !== 'string' || !/^wss?:\/\//.test(o.url)) return failNow(`connectSocket:fail invalid url "${o.url}"`);
    if (tasks.size >= opts.maxSockets) return failNow(`connectSocket:fail exceed max task count ${opts.maxSockets}`);
    let ws;
    try {
      ws = new WebSocket(o.url, Array.isArray(o.protocols) ? o.protocols : [], Object.assign({
        headers: Object.assign({}, o.header || {})
      }, opts.trustedCa ? { ca: opts.trustedCa } : {}));
    } catch (e) {
      return failNow(`connectSocket:fail ${e.message}`);
    }
    task.ws = ws;
    tasks.add(task);
    callbacks(o, 'connectSocket:ok');
    let responseHeaders = {};
    ws.on('upgrade', (res) => {
      responseHeaders = res.headers;
    });
    ws.on('open', () => {
      if (task.state === 'connecting') task.state = 'open';
      const res = new C.Object();
      res.header = Object.assign(new C.Object(), responseHeaders);
      res.profile = new C.Object();
      task.emit('open', res);
    });
    ws.on('message', (data, isBinary) => {
      const res = new C.Object();
      res.data = isBinary ? toContextArrayBuffer(Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data))) : data.toString('utf8');
      task.emit('message', res);
    });
    ws.on('error', (err) => {
      if (task.userClose) return; // closing a connecting socket is not an error
      const res = new C.Object();
      res.errMsg = `connectSocket:fail ${err.message}`;
      task.emit('error', res);
    });
    ws.on('close', (code, reason) => {
      tasks.delete(task);
      task.state = 'closed';
      const res = new C.Object();
      res.code = task.forced ? 1006 : code;
      res.reason = task.forced ? 'interrupted' : reason.toString('utf8');
      task.emit('close', res);
    });
    return task.api;
  }
  return { connectSocket, tasks, callbacks };
}

module.exports = { makeSockets };
