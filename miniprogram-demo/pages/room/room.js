// The room page: this member's <live-pusher>, one <live-player> (in a stream-tile) per member
// who publishes, the member list, buttons for microphone, camera, role, live streaming and
// leaving. Every component event goes to the SDK through client.dataReporter; what the SDK
// makes of them (new URLs, phases, quality) comes back as events and ends up in `data`.

var config = require('../../config.js');
var i18n = require('../../lib/i18n.js');
var uids = require('../../lib/uid.js');
var roster = require('../../lib/roster.js');
var quality = require('../../lib/quality.js');
var session = require('../../lib/session.js');
var debugToken = require('../../lib/debug-token.js');

var LOG_LINES = 40;

// How each way of being removed is shown: the connection state, and the notice's text.
var ENDINGS = {
  kicked: { conn: 'kicked', body: 'kickedBody' },
  replaced: { conn: 'replaced', body: 'replacedBody' },
  token_expired: { conn: 'token_expired', body: 'tokenExpiredBody' },
  closed: { conn: 'closed', body: 'closedBody' }
};

function noop() {}

Page({
  data: {
    t: i18n.strings('zh'),
    room: '',
    uid: '',
    role: 'broadcaster',
    conn: 'connecting',
    connText: '',
    reconnects: 0,
    background: false,
    ended: false,
    pushUrl: '',
    micMuted: false,
    cameraOff: false,
    pusherPhase: '',
    pusherQuality: '',
    pusherHint: '',
    needSetting: false,
    members: [],
    players: [],
    error: '',
    log: []
  },

  // Not in `data`: the client and the app-lifecycle handlers are this page's, not the view's.
  client: null,
  params: null,
  appHide: null,
  appShow: null,

  onLoad: function (query) {
    var t = i18n.strings();
    var p = this.paramsFrom(query || {});
    this.params = p;
    this.setData({ t: t, room: p.room, uid: String(p.uid), role: p.role });
    wx.setNavigationBarTitle({ title: i18n.format(t.roomTitle, { room: p.room }) });
    if (wx.setKeepScreenOn) wx.setKeepScreenOn({ keepScreenOn: true });
    this.watchApp();
    this.enter();
  },

  onUnload: function () {
    this.unwatchApp();
    var client = this.client;
    this.client = null;
    if (client && session.client() === client) {
      // Leave politely, then drop the client (NetEase's Client is one per mini-program).
      client.leave().catch(noop).then(function () {
        if (session.client() === client) session.close();
      });
    }
  },

  /** What to join: the join page's form, else the query (?room=&uid=&role=), else config.js. */
  paramsFrom: function (query) {
    var p = Object.assign({}, session.pendingParams() || {});
    if (query.server) p.server = decodeURIComponent(query.server);
    if (query.appkey) p.appkey = query.appkey;
    if (query.room) p.room = decodeURIComponent(query.room);
    if (query.uid) p.uid = uids.parse(query.uid);
    if (query.role) p.role = query.role;
    if (!p.server) p.server = config.server;
    if (!p.appkey) p.appkey = config.appkey;
    if (!p.room) p.room = config.room;
    if (p.uid === undefined || p.uid === null) p.uid = uids.random();
    if (p.role !== 'audience') p.role = 'broadcaster';
    return p;
  },

  // ---------------------------------------------------------------- joining

  enter: function () {
    var self = this;
    var p = this.params;
    var client = session.open(p);
    this.client = client;
    this.listen(client);
    var me = roster.upsert([], p.uid, { self: true, role: p.role });
    this.setData({ conn: 'connecting', ended: false, error: '', pushUrl: '', players: [], members: me, role: p.role });
    this.showConn();
    session.setMembers(me);
    var join = { channelName: p.room, uid: p.uid };
    if (p.token) join.token = p.token;
    return client
      .init()
      .then(function () {
        // Before join, setRole picks the role to join with.
        return client.setRole(p.role);
      })
      .then(function () {
        return client.join(join);
      })
      .then(function () {
        if (self.client !== client) return null;
        self.setData({ conn: 'connected' });
        self.showConn();
        self.note('joined ' + p.room + ' as ' + p.uid + ' (' + p.role + ')');
        return p.role === 'broadcaster' ? self.startPublishing() : null;
      })
      .catch(function (e) {
        if (self.client !== client) return;
        self.setData({ conn: 'failed', error: self.errorText(e) });
        self.showConn();
        self.note('join failed: ' + self.errorText(e));
      });
  },

  startPublishing: function () {
    var self = this;
    var client = this.client;
    return client
      .publish()
      .then(function (url) {
        if (self.client !== client) return;
        self.setData({ pushUrl: url, pusherHint: '' });
        self.setMembers(roster.upsert(self.data.members, self.params.uid, { audio: true, video: true }));
        self.note('publishing');
        // The app's own mute state survives a role switch: tell the SDK again.
        if (self.data.micMuted) self.sdkMute('audio', true);
        if (self.data.cameraOff) self.sdkMute('video', true);
      })
      .catch(function (e) {
        self.setData({ error: self.errorText(e) });
        self.note('publish failed: ' + self.errorText(e));
      });
  },

  // ---------------------------------------------------------------- SDK events

  listen: function (client) {
    var self = this;
    // Events of a client this page no longer uses are ignored (a rejoin makes a new one).
    function on(name, fn) {
      client.on(name, function (d) {
        if (self.client === client) fn.call(self, d || {});
      });
    }
    on('clientJoin', function (d) {
      this.setMembers(roster.upsert(this.data.members, d.uid, {}));
      this.note('uid ' + d.uid + ' joined');
    });
    on('clientLeave', function (d) {
      this.setMembers(roster.remove(this.data.members, d.uid));
      this.dropPlayer(d.uid);
      this.note('uid ' + d.uid + ' left (' + d.reason + ')');
    });
    on('stream-added', function (d) {
      this.setMembers(roster.setLive(this.data.members, d.uid, d.mediaType, true));
      this.note('uid ' + d.uid + ' publishes ' + d.mediaType);
      this.subscribeTo(d.uid, d.mediaType);
    });
    on('stream-removed', function (d) {
      var members = roster.setLive(this.data.members, d.uid, d.mediaType, false);
      this.setMembers(members);
      this.note('uid ' + d.uid + ' stopped ' + d.mediaType);
      client.unsubscribe(d.uid, d.mediaType).catch(noop);
      if (!roster.publishing(roster.find(members, d.uid))) this.dropPlayer(d.uid);
      else this.refreshPlayer(d.uid);
    });
    on('role-Changed', function (d) {
      this.setMembers(roster.upsert(this.data.members, d.uid, { role: d.role }));
    });
    ['audio', 'video'].forEach(function (kind) {
      on('mute-' + kind, function (d) {
        this.setMembers(roster.setMuted(this.data.members, d.uid, kind, true));
        this.refreshPlayer(d.uid);
      });
      on('unmute-' + kind, function (d) {
        this.setMembers(roster.setMuted(this.data.members, d.uid, kind, false));
        this.refreshPlayer(d.uid);
      });
    });
    // A fresh URL: ours after <live-pusher> gave up (-1307) or after a new session, a player's
    // after <live-player> gave up (-2301). Setting it restarts the component.
    on('syncDone', function (d) {
      if (String(d.uid) === String(this.params.uid)) {
        if (this.data.role !== 'broadcaster') return;
        var same = d.url === this.data.pushUrl;
        this.setData({ pushUrl: d.url, pusherHint: '' });
        // An unchanged url attribute does not restart the component: restart it by hand.
        if (same) this.restartPusher();
        this.note('new push URL');
      } else {
        // A new slot is a new stream-tile, so a new <live-player>, even if the URL is the same.
        var p = this.playerOf(d.uid);
        var gen = p ? p.gen + 1 : 0;
        this.upsertPlayer(d.uid, { url: d.url, gen: gen, slot: roster.key(d.uid) + '.' + gen });
        this.note('new play URL for uid ' + d.uid);
      }
    });
    on('pusher-state', function (d) {
      this.setData({ pusherPhase: d.phase });
    });
    on('player-state', function (d) {
      this.upsertPlayer(d.uid, { phase: d.phase }, true);
    });
    on('quality', function (d) {
      var text = quality.line(d, this.data.t);
      if (d.kind === 'push') this.setData({ pusherQuality: text });
      else this.upsertPlayer(d.uid, { quality: text }, true);
    });
    on('kicked', function (d) {
      this.end(ENDINGS[d.reason] ? d.reason : 'kicked');
    });
    on('liveRoomClose', function () {
      this.end('closed');
    });
    on('willreconnect', function (d) {
      this.setData({ conn: 'reconnecting', reconnects: d.count });
      this.showConn();
    });
    on('reconnected', function (d) {
      this.setData({ conn: 'connected' });
      this.showConn();
      // A new session brings new URLs with syncDone; a resumed one keeps them.
      this.note(d.resumed ? 'connection back, session resumed' : 'connection back, new session');
    });
    on('disconnect', function (d) {
      this.setData({ conn: 'disconnected', pushUrl: '', players: [] });
      this.showConn();
      this.note('disconnected: ' + d.code + ' ' + d.reason);
    });
    on('tokenWillExpire', function (d) {
      this.note('token expires in ' + d.remainingSeconds + ' s');
      this.renewToken();
    });
    on('rtmp-tasks-status', function (d) {
      this.note('task ' + d.taskId + ': ' + d.code + ' ' + d.msg);
    });
  },

  subscribeTo: function (uid, mediaType) {
    var self = this;
    var client = this.client;
    return client
      .subscribe(uid, mediaType)
      .then(function (res) {
        if (self.client !== client) return;
        // Still publishing? (It may have stopped while the answer was on its way.)
        if (!roster.publishing(roster.find(self.data.members, uid))) return;
        self.upsertPlayer(uid, { url: res.url });
      })
      .catch(function (e) {
        self.note('subscribe ' + uid + ' failed: ' + self.errorText(e));
      });
  },

  /**
   * Adds or updates the player of `uid` with `fields`, refreshing its member flags. With
   * `onlyIfThere`, a missing player is not created (a late phase or quality report).
   * @param {number | string} uid
   * @param {Object} fields
   * @param {boolean} [onlyIfThere]
   */
  upsertPlayer: function (uid, fields, onlyIfThere) {
    var key = roster.key(uid);
    var m = roster.find(this.data.members, uid) || {};
    var flags = { audio: !!m.audio, video: !!m.video, audioMuted: !!m.audioMuted, videoMuted: !!m.videoMuted };
    var found = false;
    var players = this.data.players.map(function (p) {
      if (p.key !== key) return p;
      found = true;
      return Object.assign({}, p, flags, fields);
    });
    if (!found) {
      if (onlyIfThere || !fields.url) return;
      players.push(Object.assign({ uid: uid, key: key, slot: key + '.0', gen: 0, url: '', phase: '', quality: '' }, flags, fields));
    }
    this.setData({ players: players });
  },

  playerOf: function (uid) {
    var key = roster.key(uid);
    for (var i = 0; i < this.data.players.length; i++) if (this.data.players[i].key === key) return this.data.players[i];
    return null;
  },

  restartPusher: function () {
    var ctx = wx.createLivePusherContext();
    ctx.stop({
      complete: function () {
        ctx.start({});
      }
    });
  },

  refreshPlayer: function (uid) {
    this.upsertPlayer(uid, {}, true);
  },

  dropPlayer: function (uid) {
    var key = roster.key(uid);
    this.setData({
      players: this.data.players.filter(function (p) {
        return p.key !== key;
      })
    });
  },

  setMembers: function (members) {
    this.setData({ members: members });
    session.setMembers(members);
  },

  /** The session was ended by the server (kicked, replaced, token expired, room closed). */
  end: function (how) {
    var ending = ENDINGS[how];
    var t = this.data.t;
    var client = this.client;
    this.client = null;
    this.setData({ conn: ending.conn, ended: true, pushUrl: '', players: [] });
    this.showConn();
    this.note('session ended: ' + how);
    if (client && session.client() === client) session.close();
    wx.showModal({ title: t.noticeTitle, content: t[ending.body], showCancel: false });
  },

  renewToken: function () {
    var self = this;
    var client = this.client;
    var p = this.params;
    if (!p.token) return Promise.resolve(); // debug-mode app key: nothing to renew
    return debugToken
      .fetchToken(p)
      .then(function (token) {
        p.token = token;
        return client.renewToken(token);
      })
      .then(function () {
        self.note('token renewed');
      })
      .catch(function (e) {
        self.note('token not renewed: ' + (e.message || e));
      });
  },

  // ---------------------------------------------------------------- app in the background

  // WeChat suspends a hidden mini-program after about 5 s and its socket dies. The SDK handles
  // the connection itself (it hears wx.onAppHide / onAppShow too); the page only shows it.
  watchApp: function () {
    var self = this;
    this.appHide = function () {
      self.setData({ background: true });
      self.showConn();
      self.note('app hidden');
    };
    this.appShow = function () {
      self.setData({ background: false });
      self.showConn();
      self.note('app shown');
    };
    wx.onAppHide(this.appHide);
    wx.onAppShow(this.appShow);
  },

  unwatchApp: function () {
    if (this.appHide) wx.offAppHide(this.appHide);
    if (this.appShow) wx.offAppShow(this.appShow);
    this.appHide = null;
    this.appShow = null;
  },

  showConn: function () {
    var t = this.data.t;
    var live = this.data.conn === 'connected' || this.data.conn === 'reconnecting' || this.data.conn === 'connecting';
    var key = this.data.background && live ? 'conn_background' : 'conn_' + this.data.conn;
    this.setData({ connText: i18n.format(t[key] || this.data.conn, { count: this.data.reconnects }) });
  },

  // ---------------------------------------------------------------- <live-pusher> events

  onPusherState: function (e) {
    if (this.client) this.client.dataReporter('push', 'bindstatechange', e.detail);
    var code = Number(e.detail && e.detail.code);
    var t = this.data.t;
    if (code === -1307) this.setData({ pusherHint: t.pushRecovering });
    else if (code === -1301) this.setData({ pusherHint: i18n.format(t.cameraFailed, { code: code }) });
    else if (code === -1302) this.setData({ pusherHint: i18n.format(t.micFailed, { code: code }) });
    else if (code === 1002 && this.data.pusherHint === t.pushRecovering) this.setData({ pusherHint: '' });
    this.note('live-pusher ' + code);
  },

  onPusherNetStatus: function (e) {
    if (this.client) this.client.dataReporter('push', 'bindnetstatus', e.detail);
  },

  onPusherError: function (e) {
    if (this.client) this.client.dataReporter('push', 'binderror', e.detail);
    var code = Number(e.detail && e.detail.errCode);
    var t = this.data.t;
    if (code === 10001) this.setData({ pusherHint: t.cameraDenied, needSetting: true });
    else if (code === 10002) this.setData({ pusherHint: t.micDenied, needSetting: true });
    this.note('live-pusher error ' + code + ' ' + ((e.detail && e.detail.errMsg) || ''));
  },

  onOpenSetting: function () {
    var self = this;
    wx.openSetting({
      success: function (res) {
        var auth = res.authSetting || {};
        if (auth['scope.camera'] !== false && auth['scope.record'] !== false) {
          self.setData({ pusherHint: '', needSetting: false });
        }
      }
    });
  },

  // A stream-tile's <live-player> changed state (the tile already told the SDK).
  onPlayerState: function (e) {
    this.note('live-player ' + e.detail.uid + ' ' + e.detail.code);
  },

  // ---------------------------------------------------------------- buttons

  // The component attribute changes at once; the SDK (when it has mute) tells the others.
  sdkMute: function (kind, muted) {
    var client = this.client;
    if (!client) return;
    var fn = muted ? client.mute : client.unmute;
    if (typeof fn !== 'function') return;
    var self = this;
    fn.call(client, kind).catch(function (e) {
      self.note((muted ? 'mute ' : 'unmute ') + kind + ' failed: ' + self.errorText(e));
    });
  },

  onToggleMic: function () {
    var muted = !this.data.micMuted;
    this.setData({ micMuted: muted });
    this.setMembers(roster.setMuted(this.data.members, this.params.uid, 'audio', muted));
    this.sdkMute('audio', muted);
  },

  onToggleCamera: function () {
    var off = !this.data.cameraOff;
    this.setData({ cameraOff: off });
    this.setMembers(roster.setMuted(this.data.members, this.params.uid, 'video', off));
    this.sdkMute('video', off);
  },

  onToggleRole: function () {
    var self = this;
    var client = this.client;
    if (!client) return Promise.resolve();
    var next = this.data.role === 'broadcaster' ? 'audience' : 'broadcaster';
    return client
      .setRole(next)
      .then(function () {
        self.params.role = next;
        self.setData({ role: next, pusherPhase: '', pusherQuality: '' });
        self.setMembers(roster.upsert(self.data.members, self.params.uid, { role: next, audio: false, video: false }));
        // An audience member's push URL no longer admits the pusher: remove the component.
        if (next === 'audience') {
          self.setData({ pushUrl: '' });
          return null;
        }
        return self.startPublishing();
      })
      .catch(function (e) {
        self.setData({ error: self.errorText(e) });
      });
  },

  onLive: function () {
    wx.navigateTo({ url: '/packageLive/pages/live/live' });
  },

  onLeave: function () {
    var client = this.client;
    this.client = null;
    this.setData({ conn: 'left', ended: true, pushUrl: '', players: [] });
    this.showConn();
    var done = function () {
      if (session.client() === client) session.close();
      wx.navigateBack();
    };
    if (!client) return done();
    return client.leave().catch(noop).then(done);
  },

  onRejoin: function () {
    return this.enter();
  },

  // ---------------------------------------------------------------- helpers

  errorText: function (e) {
    return i18n.format(this.data.t.errorCode, { code: (e && e.code) || '-', msg: (e && e.message) || String(e) });
  },

  note: function (line) {
    console.log('[demo]', line);
    this.setData({ log: this.data.log.concat(line).slice(-LOG_LINES) });
  }
});
