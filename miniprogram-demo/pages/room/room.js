// A room page: join, publish the camera with <live-pusher>, and play everyone who publishes
// with <live-player>. Open with query ?room=NAME&uid=NUMBER (uid defaults to a random one).
const YunXinMiniappSDK = require('mprtc');
const config = require('../../config.js');

Page({
  data: { status: 'starting', pushUrl: '', players: [], log: [] },

  note(line) {
    console.log('[demo]', line);
    this.setData({ log: this.data.log.concat(line).slice(-50) });
  },

  onLoad(query) {
    const room = (query && query.room) || config.room;
    const uid = Number((query && query.uid) || Math.floor(Math.random() * 1e6) + 1);
    const client = YunXinMiniappSDK.Client({ appkey: config.appkey, debug: true, server: config.server });
    this.client = client;

    client.on('clientJoin', (d) => this.note(`uid ${d.uid} joined`));
    client.on('clientLeave', (d) => this.note(`uid ${d.uid} left`));
    client.on('stream-added', (d) => {
      this.note(`uid ${d.uid} publishes ${d.mediaType}`);
      client.subscribe(d.uid, d.mediaType).then((res) => {
        const others = this.data.players.filter((p) => p.uid !== d.uid);
        this.setData({ players: others.concat({ uid: d.uid, url: res.url }) });
        this.note(`playing uid ${d.uid}`);
      }).catch((e) => this.note(`subscribe failed: ${e.code} ${e.message}`));
    });
    client.on('stream-removed', (d) => {
      this.note(`uid ${d.uid} stopped ${d.mediaType}`);
      this.setData({ players: this.data.players.filter((p) => p.uid !== d.uid) });
    });
    client.on('disconnect', () => this.setData({ status: 'disconnected' }));

    client.init()
      .then(() => client.join({ channelName: room, uid }))
      .then(() => {
        this.setData({ status: `in room ${room} as ${uid}` });
        return client.publish();
      })
      .then((url) => {
        this.setData({ pushUrl: url });
        this.note('publishing');
      })
      .catch((e) => {
        this.setData({ status: `error ${e.code}: ${e.message}` });
        this.note(`error ${e.code}: ${e.message}`);
      });
  },

  onPusherState(e) {
    this.note(`live-pusher state ${e.detail.code}`);
  },

  onPlayerState(e) {
    this.note(`live-player ${e.currentTarget.dataset.uid} state ${e.detail.code}`);
  },

  onUnload() {
    if (this.client) this.client.leave();
  },
});
