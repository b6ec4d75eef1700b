// The live page (its own package, so the main package stays small): compose room members into
// one picture and push it to an RTMP URL with a push task. Presets place 1, 2 or 4 publishing
// members; the background colour and an optional picture complete the canvas. The task's
// status (505 pushing, 506 failed, 511 ended) is shown as it changes.

var i18n = require('../../../lib/i18n.js');
var roster = require('../../../lib/roster.js');
var session = require('../../../lib/session.js');
var layout = require('../../../lib/task-layout.js');

var COLORS = [
  { key: 'colorBlack', hex: '#000000' },
  { key: 'colorWhite', hex: '#FFFFFF' },
  { key: 'colorGreen', hex: '#00FF00' },
  { key: 'colorBlue', hex: '#0000FF' }
];
var HISTORY_LINES = 20;

Page({
  data: {
    t: i18n.strings('zh'),
    inRoom: false,
    presets: [1, 2, 4],
    preset: 2,
    colorNames: [],
    colorIndex: 0,
    color: '#000000',
    image: '',
    streamUrl: '',
    taskId: 'live_1',
    record: false,
    uids: [],
    usersText: '',
    running: false,
    busy: false,
    status: null,
    statusText: '',
    history: [],
    error: ''
  },

  client: null,
  onStatus: null,

  onLoad: function () {
    var t = i18n.strings();
    this.setData({
      t: t,
      colorNames: COLORS.map(function (c) {
        return t[c.key];
      })
    });
    wx.setNavigationBarTitle({ title: t.liveTitle });
    var client = session.client();
    this.client = client;
    if (!client) {
      this.setData({ inRoom: false, error: t.notInRoom });
      return;
    }
    var self = this;
    this.onStatus = function (s) {
      self.showStatus(s);
    };
    client.on('rtmp-tasks-status', this.onStatus);
    // A task started earlier (and its last status) is shown as it is now.
    var known = session.tasks()[this.data.taskId];
    this.setData({ inRoom: true });
    if (known) this.showStatus(known);
  },

  onShow: function () {
    this.pickUsers();
  },

  onUnload: function () {
    if (this.client && this.onStatus) this.client.off('rtmp-tasks-status', this.onStatus);
    this.client = null;
  },

  /** The members the preset places: publishing ones, this member first. */
  pickUsers: function () {
    var members = session.members().filter(roster.publishing);
    var me = session.params();
    var meKey = me ? roster.key(me.uid) : '';
    members.sort(function (a, b) {
      return (b.key === meKey ? 1 : 0) - (a.key === meKey ? 1 : 0);
    });
    // Push-task uids are JSON numbers: a uid beyond 2^53 cannot be placed.
    var uids = members
      .map(function (m) {
        return m.uid;
      })
      .filter(function (u) {
        return typeof u === 'number';
      })
      .slice(0, this.data.preset);
    this.setData({ uids: uids, usersText: i18n.format(this.data.t.layoutUsers, { uids: uids.join(', ') || '-' }) });
    return uids;
  },

  onPreset: function (e) {
    this.setData({ preset: Number(e.currentTarget.dataset.n) || 1 });
    this.pickUsers();
  },

  onColorPick: function (e) {
    var i = Number(e.detail.value) || 0;
    this.setData({ colorIndex: i, color: COLORS[i].hex, error: '' });
  },

  onInput: function (e) {
    var patch = { error: '' };
    patch[e.currentTarget.dataset.field] = e.detail.value;
    this.setData(patch);
  },

  onRecord: function (e) {
    this.setData({ record: !!e.detail.value });
  },

  /** The task from the form, or null with `error` set. */
  task: function () {
    var t = this.data.t;
    var color = layout.colorNumber(this.data.color);
    var url = String(this.data.streamUrl || '').trim();
    var uids = this.pickUsers();
    var error = '';
    if (!/^rtmps?:\/\/\S+/.test(url)) error = t.badStreamUrl;
    else if (color === null) error = t.badColor;
    else if (!uids.length) error = t.noPublishers;
    if (error) {
      this.setData({ error: error });
      return null;
    }
    return layout.buildTask({
      taskId: this.data.taskId,
      streamUrl: url,
      preset: this.data.preset,
      uids: uids,
      color: color,
      image: String(this.data.image || '').trim(),
      record: this.data.record
    });
  },

  run: function (what, arg) {
    var self = this;
    var client = this.client;
    if (!client) return Promise.resolve();
    this.setData({ busy: true, error: '' });
    return client[what](arg)
      .then(function () {
        self.setData({ busy: false, running: what !== 'deleteTasks' });
        self.addHistory(what + ' ' + self.data.t.task_added);
      })
      .catch(function (e) {
        var t = self.data.t;
        var msg = e && e.field ? i18n.format(t.invalidField, { field: e.field }) : i18n.format(t.errorCode, { code: e && e.code, msg: e && e.message });
        self.setData({ busy: false, error: msg });
        self.addHistory(what + ' ' + msg);
      });
  },

  onStart: function () {
    var task = this.task();
    return task ? this.run('addTasks', { rtmpTasks: [task] }) : Promise.resolve();
  },

  onUpdate: function () {
    var task = this.task();
    return task ? this.run('updateTasks', { rtmpTasks: [task] }) : Promise.resolve();
  },

  onStop: function () {
    return this.run('deleteTasks', { taskIds: [this.data.taskId] });
  },

  showStatus: function (s) {
    if (s.taskId !== this.data.taskId) return;
    var t = this.data.t;
    var text = i18n.format(t['task_' + s.code] || String(s.code), { msg: s.msg });
    this.setData({ status: { code: s.code, msg: s.msg }, statusText: text, running: s.code !== 511 });
    this.addHistory(s.taskId + ': ' + s.code + ' ' + text);
  },

  addHistory: function (line) {
    var d = new Date();
    var pad = function (n) {
      return n < 10 ? '0' + n : String(n);
    };
    var stamp = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    this.setData({ history: this.data.history.concat(stamp + ' ' + line).slice(-HISTORY_LINES) });
  }
});
