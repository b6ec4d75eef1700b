'use strict';
// <zego-pusher> and <zego-player>: the two components of ZEGO's live plugin that ZEGO's guide
// pushes and plays through, as mini-program custom components over the native <live-pusher>
// and <live-player> (zego-pusher/, zego-player/ next to this file). A page keeps its WXML, its
// selectComponent('#zg-pusher').start() calls and its handlers; only the usingComponents path
// changes. Each component's index.js is one line: Component(require('../zego-components.js')(0 | 1)).
// ES2017 syntax on purpose (no ?. / ?? / class fields): old iOS JavaScriptCore.

var sdk = require('./index.js');

// The attributes ZEGO's guide sets, with the native components' defaults: a number, a boolean
// or a string here gives the property that type; picture-in-picture-mode takes a string or a
// list, so any type. Each component's WXML maps them onto the native attributes.
var PUSHER = {
  url: '', sid: '', waitingImage: '', enableCamera: true, debug: false, autoFocus: true, aspect: '9:16',
  minBitrate: 200, maxBitrate: 1000, zoom: false, mode: 'RTC', muted: false, beauty: 0, whiteness: 0,
  orientation: 'vertical'
};
var PLAYER = {
  url: '', sid: '', orientation: 'vertical', objectFit: 'contain', minCache: 1, maxCache: 3, mode: 'live',
  muted: false, debug: false, autoplay: false, pictureInPictureMode: []
};

// The methods of ZEGO's components: those of the native contexts, under the same names.
var PUSHER_METHODS = 'start stop pause resume switchCamera toggleTorch snapshot startPreview stopPreview';
var PLAYER_METHODS = 'play stop pause resume mute snapshot requestFullScreen exitFullScreen';

/** The Component() definition of <zego-player> (`player` truthy) or <zego-pusher>. */
module.exports = function (player) {
  var properties = {};
  var spec = player ? PLAYER : PUSHER;
  for (var k in spec) {
    var v = spec[k];
    var type = { number: Number, boolean: Boolean, string: String }[typeof v];
    properties[k] = { type: type || null, value: v };
  }
  // Native events go out as the component's, with the stream they concern (`sid`, or for a
  // pusher the stream this mini-program publishes): ZEGO's pages hand them on with
  // updatePlayerState(e.detail.streamID, e) as they come.
  function relay(name) {
    return function (e) {
      var detail = { streamID: this.data.sid || (player ? '' : sdk.zegoPushing() || '') };
      for (var f in e.detail) detail[f] = e.detail[f];
      this.triggerEvent(name, detail);
    };
  }
  /** @type {Record<string, Function>} */
  var methods = { s: relay('statechange'), n: relay('netstatus') };
  (player ? PLAYER_METHODS : PUSHER_METHODS).split(' ').forEach(function (m) {
    /** @this {any} */
    methods[m] = function (options) {
      // One context per component, made at the first call, when the native element exists.
      var ctx = this.ctx || (this.ctx = player ? wx.createLivePlayerContext('p', this) : wx.createLivePusherContext());
      return ctx[m](options);
    };
  });
  return { properties: properties, methods: methods };
};
