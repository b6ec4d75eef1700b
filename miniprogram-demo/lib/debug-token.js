// Fetches a join token from the server's debug token endpoint, for trying a secure app key out
// without a backend: GET <http(s) of the server>/api/v1/debug/token?appkey=&room=&uid= answering
// {"token": "..."}. mprtc-server does not offer that endpoint yet, so the join page says so and
// the token is typed in (production apps get it from their own backend anyway).

/** http(s)://host[:port] of a ws(s):// signaling URL, or null. */
function httpBase(server) {
  var m = /^(wss?):\/\/([^/?#]+)/.exec(String(server || ''));
  if (!m) return null;
  return (m[1] === 'wss' ? 'https://' : 'http://') + m[2];
}

/**
 * Resolves with the token; rejects with an Error whose `status` is the HTTP status (0 when the
 * request itself failed).
 */
function fetchToken(p) {
  return new Promise(function (resolve, reject) {
    var base = httpBase(p.server);
    if (!base) {
      var bad = /** @type {Error & {status: number}} */ (new Error('bad server address'));
      bad.status = 0;
      reject(bad);
      return;
    }
    wx.request({
      url: base + '/api/v1/debug/token',
      method: 'GET',
      data: { appkey: p.appkey, room: p.room, uid: String(p.uid) },
      success: function (res) {
        var data = /** @type {any} */ (res.data);
        if (res.statusCode === 200 && data && typeof data.token === 'string') {
          resolve(data.token);
          return;
        }
        var e = /** @type {Error & {status: number}} */ (new Error('HTTP ' + res.statusCode));
        e.status = res.statusCode;
        reject(e);
      },
      fail: function (res) {
        var e = /** @type {Error & {status: number}} */ (new Error(res.errMsg));
        e.status = 0;
        reject(e);
      }
    });
  });
}

module.exports = { httpBase: httpBase, fetchToken: fetchToken };
