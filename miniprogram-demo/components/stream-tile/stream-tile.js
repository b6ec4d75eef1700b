// One remote member's tile: its <live-player>, a caption and the quality line. The player's
// events go straight to the SDK (dataReporter 'pull' with this tile's uid); the SDK answers with
// a new URL (syncDone) or a phase or quality, which the room page hands back as properties.

var session = require('../../lib/session.js');

Component({
  properties: {
    // The member's uid as a decimal string (a uid above 2^53 only survives as a string).
    uid: { type: String, value: '' },
    url: { type: String, value: '' },
    audio: { type: Boolean, value: false },
    video: { type: Boolean, value: false },
    audioMuted: { type: Boolean, value: false },
    videoMuted: { type: Boolean, value: false },
    phase: { type: String, value: '' },
    quality: { type: String, value: '' },
    t: { type: Object, value: {} }
  },

  data: {
    lastCode: 0
  },

  methods: {
    report: function (type, detail) {
      var client = session.client();
      if (client) client.dataReporter('pull', type, detail, this.properties.uid);
    },

    onState: function (e) {
      this.report('bindstatechange', e.detail);
      var code = Number(e.detail && e.detail.code);
      this.setData({ lastCode: code });
      this.triggerEvent('playerstate', { uid: this.properties.uid, code: code });
    },

    onNetStatus: function (e) {
      this.report('bindnetstatus', e.detail);
    },

    onError: function (e) {
      this.report('binderror', e.detail);
    }
  }
});
