'use strict';
// The ZEGO-shaped engine: ZegoExpressEngine(appID, server) with ZEGO's method and event names,
// over the same core as the NetEase Client. Only names and shapes are translated here: the
// core decides (joins, stream and user ids, component phases, quality sampling, reconnects),
// and with the `zego` option its client also says what ZEGO reports differently (ZegoFact in
// src/core/output.rs), such as the code a kick is reported with.
// ES2017 syntax on purpose (no ?. / ?? / class fields): old iOS JavaScriptCore.

var client = require('./client.js');

var VERSION = 'mprtc-zego-1';

// Room states of ZEGO's roomStateUpdate, and the roomStateChanged reasons.
var DISCONNECTED = 'DISCONNECTED';
var CONNECTING = 'CONNECTING';
var CONNECTED = 'CONNECTED';

// The stream this mini-program publishes (one pusher per page): a <zego-pusher> without `sid`
// names its events with it.
var pushing = null;

var PUBLISH_STATE = { requesting: 'PUBLISH_REQUESTING', active: 'PUBLISHING', failed: 'NO_PUBLISH' };
var PLAY_STATE = { requesting: 'PLAY_REQUESTING', active: 'PLAYING', failed: 'NO_PLAY' };

// `options` is mprtc's addition to ZEGO's two arguments: the client options `requestTimeout`,
// `reconnectTimeout` and `seed` (see index.d.ts).
function ZegoExpressEngine(appID, server, options) {
  if (!(this instanceof ZegoExpressEngine)) return new (/** @type {any} */ (ZegoExpressEngine))(appID, server, options);
  var o = { appkey: String(appID), server: server, zego: true };
  for (var k in options || {}) {
    if (Object.prototype.hasOwnProperty.call(options, k)) o[k] = options[k];
  }
  this._c = new (/** @type {any} */ (client.Client))(o, true);
  this._listeners = {};
  this._roomID = null;
  this._pushStream = null;
  this._userUpdate = false;
  // uid -> {userID, userName, streamID, kinds}: the names the core reported with 'identity',
  // and how many media kinds of the member are live (a ZEGO stream is up while any is).
  this._members = {};
  // taskID -> true for the mixer tasks this engine runs ('stopping' until they end), and
  // setMixerTaskConfig's settings.
  this._mixing = {};
  this._mixConfig = {};
  this._hook();
}

var proto = ZegoExpressEngine.prototype;

proto.getVersion = function () {
  return VERSION;
};

// Logging goes to the console of the mini-program; the settings are kept for getters only.
proto.setLogConfig = function (config) {
  this._logConfig = config || {};
  return true;
};
proto.setDebugVerbose = function (enable) {
  this._debug = !!enable;
};

// ZEGO's switch for roomUserUpdate (also `loginRoom(..., {userUpdate: true})`).
proto.setUserStateUpdate = function (enable) {
  this._userUpdate = !!enable;
  return true;
};

client.listeners(proto, false);

proto._room = function (state, reason, code) {
  this._emit('roomStateUpdate', [this._roomID, state, code || 0, '']);
  this._emit('roomStateChanged', [this._roomID, reason, code || 0, '']);
};

proto._member = function (uid) {
  var key = String(uid);
  return this._members[key] || (this._members[key] = { userID: key, userName: '', streamID: null, kinds: 0, extraInfo: '' });
};

proto._user = function (m) {
  return { userID: m.userID, userName: m.userName };
};

proto._streamOf = function (uid) {
  var m = this._member(uid);
  return m.streamID || String(uid);
};

// Core events, renamed.
proto._hook = function () {
  var self = this;
  var c = this._c;
  c.on('identity', function (d) {
    var m = self._member(d.uid);
    if (d.userID !== undefined) {
      m.userID = d.userID;
      m.userName = d.userName;
    }
    if (d.streamID !== undefined) m.streamID = d.streamID;
  });
  c.on('clientJoin', function (d) {
    if (self._userUpdate) self._emit('roomUserUpdate', [self._roomID, 'ADD', [self._user(self._member(d.uid))]]);
    self._count();
  });
  c.on('clientLeave', function (d) {
    var m = self._member(d.uid);
    delete self._members[String(d.uid)];
    if (self._userUpdate) self._emit('roomUserUpdate', [self._roomID, 'DELETE', [self._user(m)]]);
    self._count();
  });
  // A stream's extra info (no key) or the room's. A room value's setter may have left (a
  // joiner is told the values set before it came): named, never added to the members.
  c.on('extra-info', function (d) {
    if (d.key === undefined) {
      self._member(d.uid).extraInfo = d.value;
      self._emit('streamExtraInfoUpdate', [self._roomID, [self._streamInfo(d.uid)]]);
    } else {
      var m = self._members[String(d.uid)] || { userID: String(d.uid), userName: '' };
      self._emit('roomExtraInfoUpdate', [self._roomID, [{ key: d.key, value: d.value, updateUser: self._user(m), updateTime: d.ts }]]);
    }
  });
  c.on('stream-added', function (d) {
    var m = self._member(d.uid);
    m.kinds += 1;
    if (m.kinds === 1) self._emit('roomStreamUpdate', [self._roomID, 'ADD', [self._streamInfo(d.uid)], '']);
  });
  c.on('stream-removed', function (d) {
    var m = self._member(d.uid);
    m.kinds = Math.max(0, m.kinds - 1);
    if (m.kinds === 0) self._emit('roomStreamUpdate', [self._roomID, 'DELETE', [self._streamInfo(d.uid)], '']);
  });
  c.on('pusher-state', function (d) {
    if (!self._pushStream) return;
    self._emit('publisherStateUpdate', [{ streamID: self._pushStream, state: PUBLISH_STATE[d.phase], errorCode: d.code, extendedData: '' }]);
  });
  c.on('player-state', function (d) {
    var streamID = self._streamOf(d.uid);
    self._emit('playerStateUpdate', [{ streamID: streamID, state: PLAY_STATE[d.phase], errorCode: d.code, extendedData: '' }]);
    // The older callback property of ZEGO's guide: 0 started, 1 stopped.
    if (typeof self.onPlayStateUpdate === 'function' && d.phase !== 'requesting') {
      try {
        self.onPlayStateUpdate(d.phase === 'active' ? 0 : 1, streamID);
      } catch (e) {
        console.error('[mprtc] onPlayStateUpdate threw', e);
      }
    }
  });
  c.on('quality', function (d) {
    if (d.kind === 'push') {
      if (self._pushStream) self._emit('publishQualityUpdate', [self._pushStream, stats(d)]);
    } else {
      self._emit('playQualityUpdate', [self._streamOf(d.uid), stats(d)]);
    }
  });
  // A new URL after the core recovered a component: ZEGO apps take URLs from state updates.
  c.on('syncDone', function (d) {
    if (d.kind === 'push' && self._pushStream) {
      self._emit('publisherStateUpdate', [{ streamID: self._pushStream, state: 'PUBLISH_REQUESTING', errorCode: 0, extendedData: '', url: d.url }]);
    } else {
      self._emit('playerStateUpdate', [{ streamID: self._streamOf(d.uid), state: 'PLAY_REQUESTING', errorCode: 0, extendedData: '', url: d.url }]);
    }
  });
  c.on('willreconnect', function () {
    self._room(CONNECTING, 'RECONNECTING', 0);
  });
  c.on('reconnected', function () {
    self._room(CONNECTED, 'RECONNECTED', 0);
  });
  c.on('disconnect', function (d) {
    self._room(DISCONNECTED, 'RECONNECT_FAILED', d.code);
  });
  // Kicked, the room closed or the token expired: the core gives the code.
  c.on('kickout', function (d) {
    self._room(DISCONNECTED, 'KICKOUT', d.code);
  });
  // A push task this engine's mixer runs changed state: ZEGO's relay-CDN state of its output.
  c.on('rtmp-tasks-status', function (d) {
    if (!self._mixing[d.taskId]) return;
    // A stopped task is followed until it says it ended.
    if (d.code === 511 && self._mixing[d.taskId] === 'stopping') delete self._mixing[d.taskId];
    var state = d.code === 505 ? 'PUBLISHING' : d.code === 506 ? 'PUBLISH_REQUESTING' : 'NO_PUBLISH';
    self._emit('mixerRelayCDNStateUpdate', [d.taskId, [{ url: d.streamUrl, state: state, updateReason: d.code === 506 ? d.msg : 'NONE', stateTime: Date.now() }]]);
  });
  c.on('tokenWillExpire', function () {
    self._emit('tokenWillExpire', [self._roomID]);
  });
  // Room messages, as ZEGO's IMRecv* events: a list of one for chat and barrage.
  c.on('message', function (d) {
    var from = self._user(self._member(d.uid));
    if (d.type === 'command') return self._emit('IMRecvCustomCommand', [self._roomID, from, d.text]);
    self._emit(d.type === 'barrage' ? 'IMRecvBarrageMessage' : 'IMRecvBroadcastMessage', [
      self._roomID,
      [{ fromUser: from, message: d.text, sendTime: d.ts, messageID: d.id }]
    ]);
  });
};

// The uid behind a ZEGO stream id, as the core finds it (a member that gave no stream id is
// named by its uid); undefined when no member has it.
proto._uidOf = function (streamID) {
  return this._c._query('uidOfStream', [streamID]);
};

proto._streamInfo = function (uid) {
  var m = this._member(uid);
  return { streamID: m.streamID || String(uid), user: this._user(m), extraInfo: m.extraInfo };
};

// ZEGO's roomOnlineUserCountUpdate: the members this engine knows of, itself included.
proto._count = function () {
  this._emit('roomOnlineUserCountUpdate', [this._roomID, Object.keys(this._members).length + 1]);
};

function stats(d) {
  var out = {};
  for (var k in d) {
    if (k !== 'kind' && k !== 'uid' && k !== 'isBigNumber') out[k] = d[k];
  }
  out.video = { videoBitrate: d.videoBitrate, videoFPS: d.videoFPS, frameWidth: d.videoWidth, frameHeight: d.videoHeight };
  out.audio = { audioBitrate: d.audioBitrate };
  return out;
}

// ---- room ---------------------------------------------------------------------------------

proto.loginRoom = function (roomID, token, user, config) {
  var self = this;
  user = user || {};
  if (config && config.userUpdate) this._userUpdate = true;
  this._roomID = roomID;
  this._room(CONNECTING, 'LOGINING', 0);
  return this._c
    ._call('join', [{ channelName: roomID, token: token, userID: user.userID, userName: user.userName }])
    .then(
      function () {
        self._room(CONNECTED, 'LOGINED', 0);
        self._count();
        return true;
      },
      function (e) {
        self._room(DISCONNECTED, 'LOGIN_FAILED', e && e.code);
        throw e;
      }
    );
};

proto.logoutRoom = function (_roomID) {
  var self = this;
  return this._c._call('leave', []).then(function () {
    self._members = {};
    self._pushStream = null;
    self._room(DISCONNECTED, 'LOGOUT', 0);
    return true;
  });
};

proto.renewToken = function (token) {
  return this._c._call('renewToken', [token]).then(function () {
    return true;
  });
};

// ---- publish and play -----------------------------------------------------------------------

proto.startPublishingStream = function (streamID) {
  this._pushStream = pushing = streamID;
  return this._c._call('publishStream', [streamID]).then(function (url) {
    return { streamID: streamID, url: url };
  });
};

proto.stopPublishingStream = function (streamID) {
  var self = this;
  return this._c._call('unpublish', ['']).then(function () {
    self._emit('publisherStateUpdate', [{ streamID: streamID, state: 'NO_PUBLISH', errorCode: 0, extendedData: '' }]);
    self._pushStream = pushing = null;
    return true;
  });
};

proto.startPlayingStream = function (streamID) {
  var uid = this._uidOf(streamID);
  if (uid === undefined) {
    return Promise.reject(client.shimError('no_such_member', 'no member publishes stream ' + streamID));
  }
  return this._c._call('subscribe', [uid, '']).then(function (urls) {
    return { streamID: streamID, url: urls.url, flvUrl: urls.flvUrl };
  });
};

proto.stopPlayingStream = function (streamID) {
  var uid = this._uidOf(streamID);
  if (uid === undefined) return Promise.resolve(true);
  return this._c._call('unsubscribe', [uid, '']).then(function () {
    return true;
  });
};

// Muting what this member publishes is a room event (the others are told); muting a stream
// being played only concerns the local <live-player>, whose `muted` the page sets.
proto.mutePublishStreamAudio = function (mute) {
  return this._c._call(mute ? 'mute' : 'unmute', ['audio']).then(function () {
    return true;
  });
};
proto.mutePublishStreamVideo = function (mute) {
  return this._c._call(mute ? 'mute' : 'unmute', ['video']).then(function () {
    return true;
  });
};

// ---- room messages ---------------------------------------------------------------------------

// ZEGO's answer shape, {errorCode: 0, messageID}; a refusal rejects with the MprtcError (4029
// over the rate, 1001 / 4003 for a bad message). `toUserIDs` empty: everyone in the room.
proto._message = function (type, text, to) {
  return this._c._call('sendMessage', [type, text, to]).then(function (r) {
    return { errorCode: 0, messageID: r.id };
  });
};
proto.sendBroadcastMessage = function (_roomID, message) {
  return this._message('broadcast', message);
};
proto.sendBarrageMessage = function (_roomID, message) {
  return this._message('barrage', message);
};
proto.sendCustomCommand = function (_roomID, command, toUserIDs) {
  return this._message('command', command, toUserIDs);
};

// ---- mixer -----------------------------------------------------------------------------------

// ZEGO's mixer task as a push task: each input's rectangle {top, left, bottom, right} becomes
// the member's place on the canvas, contentType 'audio' / 'video_only' what of it is mixed;
// outputConfig's size is the canvas, setMixerTaskConfig's backgroundColor (0xRRGGBBAA) its
// colour, outputFPS and outputBitrate (kbit/s) the task's videoFps and videoBitrate. The output
// must be one rtmp:// URL (a CDN's, or a push URL mprtc gave a member): mprtc has no server-side
// mixed streams to name by a stream ID, so that is refused with 1010.
proto.startMixerTask = function (task) {
  var self = this;
  var t = task || {};
  return new Promise(function (resolve) {
    var outs = t.outputList || [];
    var target = outs.length === 1 ? String(outs[0].target || '') : '';
    if (!/^rtmps?:\/\//.test(target)) {
      throw client.shimError('unsupported', 'startMixerTask: outputList must be one rtmp:// URL; mixing into a stream ID is not supported by mprtc');
    }
    if (self._mixConfig.backgroundImage) {
      throw client.shimError('unsupported', 'setMixerTaskConfig: backgroundImage is not supported by mprtc');
    }
    var users = (t.inputList || []).map(function (input, i) {
      var uid = self._uidOf(input.streamID);
      if (uid === undefined) throw client.shimError('no_such_member', 'no member publishes stream ' + input.streamID);
      var l = input.layout || {};
      var kind = String(input.contentType || 'video').toLowerCase();
      return { uid: uid, x: l.left, y: l.top, width: l.right - l.left, height: l.bottom - l.top, adaption: 0, zOrder: i + 1, pushAudio: kind !== 'video_only', pushVideo: kind !== 'audio' };
    });
    var c = t.outputConfig || {};
    var bg = self._mixConfig.backgroundColor;
    var canvas = { width: c.outputWidth, height: c.outputHeight, color: bg === undefined ? 0 : Math.floor(bg / 256) };
    var config = { videoFps: c.outputFPS, videoBitrate: c.outputBitrate };
    var rtmp = { taskId: t.taskID, streamUrl: target, layout: { canvas: canvas, users: users }, config: config };
    // A user ID's uid is past 2^53 (names::uid_for_user): the JS number would round it, so the
    // JSON carries the digits of the string the core gave.
    var json = JSON.stringify([{ rtmpTasks: [rtmp] }]).replace(/"uid":"(\d+)"/g, '"uid":$1');
    resolve(self._c._call(self._mixing[t.taskID] === true ? 'updateTasks' : 'addTasks', json));
  }).then(function () {
    self._mixing[t.taskID] = true;
    return { errorCode: 0, extendedData: '' };
  });
};
proto.stopMixerTask = function (taskID) {
  var self = this;
  return this._c._call('deleteTasks', [{ taskIds: [taskID] }]).then(function () {
    self._mixing[taskID] = 'stopping';
    return { errorCode: 0 };
  });
};
proto.setMixerTaskConfig = function (config) {
  this._mixConfig = config || {};
  return true;
};

// ---- extra info ------------------------------------------------------------------------------

// Up to 1,024 bytes on this member's stream; the others get streamExtraInfoUpdate.
proto.setStreamExtraInfo = function (_streamID, extraInfo) {
  return this._c._call('setExtraInfo', [null, extraInfo]).then(ok);
};
// A room value under `key` (1 to 32 bytes; 10 keys a room); the others get roomExtraInfoUpdate.
proto.setRoomExtraInfo = function (_roomID, key, value) {
  return this._c._call('setExtraInfo', [key, value]).then(ok);
};

function ok() {
  return { errorCode: 0 };
}

// ---- the component bridge -------------------------------------------------------------------

// ZEGO pages pass the whole component event `e`; the pusher's events carry its own streamID.
proto.updatePlayerState = function (streamID, e) {
  this._report(streamID, 'bindstatechange', e && e.detail !== undefined ? e.detail : e);
};

proto.updatePlayerNetStatus = function (streamID, e) {
  var detail = e && e.detail !== undefined ? e.detail : e;
  this._report(streamID, 'bindnetstatus', detail && detail.info !== undefined ? detail.info : detail);
};

// The core tells this member's pusher (its own stream) from a player, and drops a report for
// a stream no member has.
proto._report = function (streamID, type, data) {
  this._c._report('reportStream', [streamID, type, data]);
};

proto.destroyEngine = function () {
  this._c.destroy();
  this._listeners = {};
};

module.exports = {
  ZegoExpressEngine: ZegoExpressEngine,
  pushing: function () {
    return pushing;
  }
};
