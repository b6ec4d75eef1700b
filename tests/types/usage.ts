// Typical use of mprtc from TypeScript, written the way NetEase YunXin mini-program code is
// (default import, `Client({...})` without `new`, promise chains, `client.on(...)`). It only has
// to type-check (tsconfig.json); nothing here runs.

import YunXinMiniappSDK from 'mprtc';
import SDKByRequire = require('mprtc');
import type { Client, MprtcError, MprtcErrorCode, RtmpTask, StreamEvent } from 'mprtc';

// One object, whichever way it is imported.
const same: typeof YunXinMiniappSDK = SDKByRequire;
const viaDefault: typeof YunXinMiniappSDK = YunXinMiniappSDK.default;
void same;
void viaDefault;

YunXinMiniappSDK.setWasmPath('miniprogram_npm/mprtc/mprtc_bg.wasm');
const preload: Promise<void> = YunXinMiniappSDK.load();
void preload;

const client: Client = YunXinMiniappSDK.Client({
  debug: true,
  appkey: 'demo',
  server: 'wss://rtc.example.com/ws',
});
const withNew = new YunXinMiniappSDK.Client({
  appkey: 'demo',
  server: 'ws://127.0.0.1:7880/ws',
  wasmPath: 'sdk/mprtc/mprtc_bg.wasm',
});
withNew.destroy();
const asQualifiedType: YunXinMiniappSDK.Client = withNew;
void asQualifiedType;

client.init();

// Pusher / player state a page would keep in data.
let pushUrl = '';
const players: { [key: string]: string } = {};
const key = (uid: number | string, mediaType: string) => `${uid}:${mediaType}`;

client.on('open', () => console.log('socket open'));
client.on('disconnect', ({ code, reason }) => console.log('socket closed', code, reason.length));
client.on('clientJoin', (data) => {
  // isBigNumber narrows uid.
  if (data.isBigNumber) {
    const s: string = data.uid;
    void s;
  } else {
    const n: number = data.uid;
    void n;
  }
});
client.on('clientLeave', ({ uid, reason }) => {
  const why: 'left' | 'connection_lost' | 'kicked' = reason;
  console.log(uid, why);
});
client.on('kicked', ({ reason }) => {
  const why: 'replaced' | 'kicked' | 'token_expired' = reason;
  console.log(why);
});
client.on('liveRoomClose', () => console.log('room closed'));
client.on('tokenWillExpire', ({ remainingSeconds }) => {
  client.renewToken(`fresh token, ${remainingSeconds} s left`).catch((e) => console.log(e.code));
});
client.on('stream-added', ({ uid, mediaType }) => {
  console.log(`${uid} published ${mediaType}`);
  client
    .subscribe(uid, mediaType)
    .then((data) => {
      players[key(uid, mediaType)] = data.url; // <live-player src="{{url}}">
      const flv: string = data.flvUrl;
      void flv;
    })
    .catch((e: MprtcError) => console.log('subscribe failed', e.code, e.reason));
});
const onRemoved = function (this: Client, data: StreamEvent) {
  delete players[key(data.uid, data.mediaType)];
  const self: Client = this; // listeners are called with the client as `this`
  void self;
};
client.on('stream-removed', onRemoved);
client.on('role-Changed', ({ uid, role }) => {
  if (role === 'audience') console.log(uid, 'is audience now');
});
client.on('rtmp-tasks-status', ({ taskId, code, msg, streamUrl }) => {
  switch (code) {
    case 505: console.log(taskId, 'pushing to', streamUrl); break;
    case 506: console.log(taskId, 'failed:', msg); break;
    case 511: console.log(taskId, 'ended'); break;
  }
});
// Component reports, as the NetEase sample forwards them; syncDone brings the new URL.
client.on('syncDone', ({ uid, url, isBigNumber }) => {
  if (isBigNumber) console.log('big uid', uid);
  pushUrl = url; // or players[...] for a remote uid
});
client.dataReporter('push', 'bindstatechange', { code: -1307, reason: '' });
client.dataReporter('push', 'bindnetstatus', { videoBitrate: 500, netSpeed: '620', netQualityLevel: 2 });
client.dataReporter('push', 'binderror', { errCode: 10001, errMsg: 'camera denied' });
client.dataReporter('pull', 'bindstatechange', { code: 2004 }, 200);
client.dataReporter('pull', 'bindnetstatus', { info: { videoFPS: 15 } }, '18446744073709551615')
  .catch((e: MprtcError) => console.log(e.code === 1002 ? 'not in a room' : e.reason));
// @ts-expect-error the kind is 'push' or 'pull'
client.dataReporter('player', 'bindstatechange', { code: 2004 });
// @ts-expect-error event names are the component attributes
client.dataReporter('push', 'statechange', { code: 1002 });
// @ts-expect-error a statechange report needs its code
client.dataReporter('push', 'bindstatechange', {});

// on() returns the client, so calls chain.
client.on('open', () => {}).off('open');
client.off('stream-removed', onRemoved);

const joinParam = { channelName: 'room1', uid: 100 };
client
  .join(joinParam)
  .then(() => client.publish())
  .then((url) => {
    pushUrl = url; // <live-pusher url="{{pushUrl}}">
  })
  .catch((e: MprtcError) => {
    if (e.code === 4011 || e.code === 4012 || e.code === 4013) {
      console.log('token problem:', e.reason);
    }
    console.error('join failed', e.message);
  });

async function lifecycle(token: string) {
  await client.join({ channelName: 'room2', uid: '18446744073709551615', token });
  const url: string = await client.publish('video');
  await client.unpublish('audio');
  await client.unpublish();
  const play = await client.subscribe(200);
  await client.unsubscribe(200, 'video');
  await client.setRole('audience');
  await client.setRole('broadcaster');
  await client.setRole('host');
  const task: RtmpTask = {
    taskId: 'live_1',
    streamUrl: 'rtmp://cdn.example.com/live/room1',
    record: true,
    layout: {
      canvas: { width: 1280, height: 720, color: 0 },
      users: [
        { uid: 100, x: 0, y: 0, width: 640, height: 360, adaption: 1, zOrder: 1,
          pushAudio: true, pushVideo: true },
        { uid: 200, x: 640, y: 0, width: 640, height: 360 },
      ],
      images: [
        { url: 'https://example.com/logo.png', x: 0, y: 360, width: 320, height: 180, adaption: 0 },
      ],
    },
    config: {
      audioParam: { bitRate: 64, channels: 2, codecProfile: 0, sampleRate: 48000 },
      singleVideoNoTrans: false,
    },
    extraInfo: '',
  };
  await client.addTasks({ rtmpTasks: [task] });
  const smaller: RtmpTask = { ...task, layout: { canvas: { width: 640, height: 360 } } };
  await client.updateTasks({ rtmpTasks: [smaller] });
  await client.deleteTasks({ taskIds: ['live_1'] });
  await client.leave();
  client.destroy();
  return { url, play, pushUrl };
}

// Errors: code and reason are typed unions; field is set for 4005.
function describe(e: MprtcError): string {
  const code: MprtcErrorCode = e.code;
  if (e.reason === 'invalid_task') return `${code} ${e.field ?? ''}`;
  return e instanceof Error ? `${e.name} ${code} ${e.reason}: ${e.message}` : '';
}

void lifecycle;
void describe;
