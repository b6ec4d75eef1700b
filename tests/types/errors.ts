// Wrong uses that the declarations must refuse. Each `@ts-expect-error` line has to produce an
// error: if a declaration became too loose, tsc would report the directive as unused.

import SDK from 'mprtc';
import type { MprtcError, MprtcErrorCode, RtmpTask } from 'mprtc';

// @ts-expect-error server is a URL string (it may be left out: SDK.setServer gives it)
SDK.Client({ appkey: 'demo', server: 7 });
// @ts-expect-error appkey is required
SDK.Client({ server: 'wss://rtc.example.com/ws' });
// @ts-expect-error unknown option (a typo of wasmPath)
SDK.Client({ appkey: 'demo', server: 'wss://rtc.example.com/ws', wasmpath: 'x.wasm' });

const client = SDK.Client({ appkey: 'demo', server: 'wss://rtc.example.com/ws' });

// ---- join
// @ts-expect-error missing channelName
client.join({ uid: 100 });
// @ts-expect-error missing uid
client.join({ channelName: 'room1' });
// @ts-expect-error uid is a number or a decimal string
client.join({ channelName: 'room1', uid: true });
// @ts-expect-error channelName is a string
client.join({ channelName: 1, uid: 100 });

// ---- media and roles
// @ts-expect-error wrong mediaType
client.publish('screen');
// @ts-expect-error wrong mediaType
client.subscribe(100, 'audio+video');
// @ts-expect-error subscribe needs a uid
client.subscribe();
// @ts-expect-error wrong role
client.setRole('anchor');
// @ts-expect-error publish resolves with the push URL, a string
client.publish().then((url: { url: string }) => url);
// @ts-expect-error subscribe resolves with {url, flvUrl}, not a string
client.subscribe(100).then((url: string) => url);

// ---- events
// @ts-expect-error wrong payload field: stream-added has no `url`
client.on('stream-added', ({ uid, url }) => console.log(uid, url));
client.on('stream-added', (data) => {
  // @ts-expect-error wrong mediaType: only 'audio' | 'video'
  if (data.mediaType === 'screen') console.log(data.uid);
});
client.on('clientJoin', (data) => {
  // @ts-expect-error wrong payload field: clientJoin has uid and isBigNumber only
  console.log(data.mediaType);
  if (!data.isBigNumber) {
    // @ts-expect-error uid is a number when isBigNumber is false
    const s: string = data.uid;
    void s;
  }
});
// @ts-expect-error disconnect's code is a number
client.on('disconnect', ({ code }: { code: string }) => code);
client.on('open', (data) => {
  // @ts-expect-error open carries no data
  console.log(data.uid);
});
client.on('rtmp-tasks-status', ({ code }) => {
  // @ts-expect-error status codes are 505, 506 and 511
  if (code === 200) console.log('ok');
});
// @ts-expect-error role-Changed is spelled with a capital C
client.on('role-changed', () => {});
// @ts-expect-error unknown event name
client.on('stream-add', () => {});
// @ts-expect-error off takes a listener of that event's payload
client.off('clientLeave', (d: { taskId: string }) => d);

// ---- push tasks
const canvas = { width: 1280, height: 720 };
client.addTasks({
  rtmpTasks: [
    {
      taskId: 't1',
      streamUrl: 'rtmp://cdn.example.com/live/x',
      layout: {
        canvas,
        // @ts-expect-error task with a string width
        users: [{ uid: 100, x: 0, y: 0, width: '640', height: 360 }],
      },
    },
  ],
});
// @ts-expect-error a task needs a layout
const noLayout: RtmpTask = { taskId: 't1', streamUrl: 'rtmp://cdn.example.com/live/x' };
void noLayout;
const wrongCanvas: RtmpTask = {
  taskId: 't1',
  streamUrl: 'rtmp://cdn.example.com/live/x',
  // @ts-expect-error the canvas needs a height
  layout: { canvas: { width: 1280 } },
};
void wrongCanvas;
// @ts-expect-error addTasks takes {rtmpTasks}, not a bare array
client.addTasks([wrongCanvas]);
// @ts-expect-error deleteTasks takes task ids as strings
client.deleteTasks({ taskIds: [1] });
const stringUid: RtmpTask = {
  taskId: 'a',
  streamUrl: 'rtmp://h/x',
  // @ts-expect-error layout user uids are numbers (they cross as JSON numbers)
  layout: { canvas, users: [{ uid: '100', x: 0, y: 0, width: 1, height: 1 }] },
};
void stringUid;

// ---- errors
function check(e: MprtcError) {
  // @ts-expect-error not an mprtc error code
  if (e.code === 1099) return;
  // @ts-expect-error not an mprtc reason
  if (e.reason === 'not_found') return;
  // @ts-expect-error code is numeric
  const c: string = e.code;
  void c;
}
// @ts-expect-error 4006 is not a code
const bad: MprtcErrorCode = 4006;
void bad;
void check;

// ---- the module
// @ts-expect-error the SDK has no createClient
SDK.createClient({ appkey: 'demo', server: 'wss://x' });
// @ts-expect-error setWasmPath takes a path
SDK.setWasmPath();
