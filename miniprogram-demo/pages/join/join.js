// The join page: where to connect, which room, who you are, and the token. The form is kept in
// storage so the next launch starts where the last one ended.

var config = require('../../config.js');
var i18n = require('../../lib/i18n.js');
var uids = require('../../lib/uid.js');
var session = require('../../lib/session.js');
var debugToken = require('../../lib/debug-token.js');

var FORM_KEY = 'mprtc-demo.join';
var ROLES = ['broadcaster', 'audience'];

Page({
  data: {
    t: i18n.strings('zh'),
    lang: 'zh',
    form: { server: '', appkey: '', room: '', uid: '', token: '' },
    roleIndex: 0,
    roleNames: ['', ''],
    error: '',
    notice: '',
    fetching: false,
    supported: true
  },

  onLoad: function () {
    var saved = null;
    try {
      saved = wx.getStorageSync(FORM_KEY);
    } catch (e) {
      // nothing saved yet
    }
    var form = {
      server: (saved && saved.server) || config.server,
      appkey: (saved && saved.appkey) || config.appkey,
      room: (saved && saved.room) || config.room,
      uid: (saved && saved.uid) || String(uids.random()),
      token: ''
    };
    var app = getApp();
    this.setData({
      form: form,
      roleIndex: saved && saved.role === 'audience' ? 1 : 0,
      supported: !(app && app.globalData && app.globalData.wasmSupported === false)
    });
    this.applyLang(i18n.lang());
  },

  applyLang: function (l) {
    var t = i18n.strings(l);
    this.setData({ t: t, lang: l, roleNames: [t.broadcaster, t.audience] });
    wx.setNavigationBarTitle({ title: t.joinTitle });
  },

  onToggleLang: function () {
    var next = this.data.lang === 'zh' ? 'en' : 'zh';
    i18n.setLang(next);
    this.applyLang(next);
  },

  // Every text field: data-field names the form key.
  onInput: function (e) {
    var patch = {};
    patch['form.' + e.currentTarget.dataset.field] = e.detail.value;
    patch.error = '';
    this.setData(patch);
  },

  onRoleChange: function (e) {
    this.setData({ roleIndex: Number(e.detail.value) || 0 });
  },

  /** The form checked; sets `error` and returns null when something is wrong. */
  params: function () {
    var f = this.data.form;
    var t = this.data.t;
    var server = String(f.server || '').trim();
    var room = String(f.room || '').trim();
    var uid = uids.parse(f.uid);
    var error = '';
    if (!/^wss?:\/\/[^/\s]+/.test(server)) error = t.badServer;
    else if (!room) error = t.badRoom;
    else if (uid === null) error = t.badUid;
    if (error) {
      this.setData({ error: error });
      return null;
    }
    return {
      server: server,
      appkey: String(f.appkey || '').trim(),
      room: room,
      uid: uid,
      role: ROLES[this.data.roleIndex] || 'broadcaster',
      token: String(f.token || '').trim()
    };
  },

  onFetchToken: function () {
    var p = this.params();
    if (!p) return Promise.resolve();
    var t = this.data.t;
    var self = this;
    this.setData({ fetching: true, notice: '', error: '' });
    return debugToken.fetchToken(p).then(
      function (token) {
        self.setData({ 'form.token': token, fetching: false, notice: t.tokenFetched });
      },
      function (e) {
        var msg = e.status
          ? i18n.format(t.tokenEndpointMissing, { status: e.status, appkey: p.appkey, room: p.room, uid: p.uid })
          : i18n.format(t.tokenFetchFailed, { msg: e.message });
        self.setData({ fetching: false, error: msg });
      }
    );
  },

  onJoin: function () {
    var p = this.params();
    if (!p) return;
    try {
      wx.setStorageSync(FORM_KEY, { server: p.server, appkey: p.appkey, room: p.room, uid: String(p.uid), role: p.role });
    } catch (e) {
      // not remembered; joining still works
    }
    session.prepare(p);
    wx.navigateTo({ url: '/pages/room/room' });
  }
});
