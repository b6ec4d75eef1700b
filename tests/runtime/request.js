'use strict';
// wx.request: a real HTTP request, with WeChat's data and callback conventions.

/** wx.request for one mini-program. */
function makeRequest(rt) {
  const { later } = rt;
  // wx.request: a real HTTP request (GET data goes into the query, other methods send it as the
  // body, JSON for objects). Only http(s) URLs; success for any status, as WeChat does.
  function request(o) {
    o = o || {};
    const method = String(o.method || 'GET').toUpperCase();
    const done = (ok, res) => {
      later(ok ? 'success callback' : 'fail callback', () => {
        const f = ok ? o.success : o.fail;
        if (typeof f === 'function') f(res);
      });
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    };
    let url;
    try {
      url = new URL(String(o.url));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('invalid url');
    } catch (e) {
      done(false, { errMsg: `request:fail invalid url "${o.url}"` });
      return { abort() {} };
    }
    let body = null;
    if (o.data !== undefined && o.data !== null) {
      if (method === 'GET' && typeof o.data === 'object') {
        for (const k of Object.keys(o.data)) url.searchParams.set(k, String(o.data[k]));
      } else {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      }
    }
    const lib = url.protocol === 'https:' ? require('node:https') : require('node:http');
    const req = lib.request(url, { method, headers: Object.assign({}, o.header || {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let data = text;
        if (o.dataType === undefined || o.dataType === 'json') {
          try {
            data = JSON.parse(text);
          } catch (e) {
            data = text;
          }
        }
        done(true, { data, statusCode: res.statusCode, header: res.headers, errMsg: 'request:ok' });
      });
    });
    req.on('error', (e) => done(false, { errMsg: `request:fail ${e.message}` }));
    if (body !== null) req.write(body);
    req.end();
    return { abort: () => req.destroy() };
  }
  return request;
}

module.exports = { makeRequest };
