// UI text in Chinese and English. Pages put the whole table for the current language into their
// data as `t`, so WXML reads {{t.join}}; text with values in it goes through format().
// The choice is kept in storage; the first run follows the phone's language.

var STORAGE_KEY = 'mprtc-demo.lang';

var TABLES = {
  zh: {
    langName: '中文',
    otherLang: 'English',
    joinTitle: '加入房间',
    roomTitle: '房间 {room}',
    liveTitle: '旁路推流',
    server: '服务器地址',
    serverHint: 'ws://局域网IP:7880/ws 或 wss://域名/ws',
    appkey: 'App Key',
    room: '房间名',
    uid: '用户 ID (uid)',
    role: '角色',
    broadcaster: '主播',
    audience: '观众',
    token: 'Token',
    tokenHint: '调试模式 (insecure) 的 App Key 可留空',
    fetchToken: '获取调试 Token',
    fetchingToken: '获取中…',
    tokenFetched: '已获取 Token',
    tokenEndpointMissing: '服务器没有调试 Token 接口 (HTTP {status})，请手动填写：mprtc-server token --app {appkey} --secret … --room {room} --uid {uid}',
    tokenFetchFailed: '获取 Token 失败：{msg}',
    join: '加入',
    badServer: '服务器地址须以 ws:// 或 wss:// 开头',
    badRoom: '请填写房间名',
    badUid: 'uid 须为 1–20 位数字',
    needBaseLib: '当前微信版本不支持 WXWebAssembly (需基础库 2.14.0+)',
    conn_connecting: '连接中',
    conn_connected: '已连接',
    conn_reconnecting: '重连中 (第 {count} 次)',
    conn_background: '在后台，回到前台后自动恢复',
    conn_disconnected: '连接已断开',
    conn_kicked: '已被移出房间',
    conn_replaced: '同一 uid 在别处加入，本端已下线',
    conn_token_expired: 'Token 已过期，已离开房间',
    conn_closed: '房间已关闭',
    conn_failed: '加入失败',
    conn_left: '已离开',
    me: '我',
    members: '成员 ({count})',
    micOn: '静音',
    micOff: '取消静音',
    cameraOn: '关摄像头',
    cameraOff: '开摄像头',
    toAudience: '切换为观众',
    toBroadcaster: '切换为主播',
    live: '旁路推流',
    leave: '离开',
    rejoin: '重新加入',
    back: '返回',
    openSetting: '去设置',
    cameraDenied: '没有摄像头权限，请在设置中允许',
    micDenied: '没有麦克风权限，请在设置中允许',
    cameraFailed: '摄像头打开失败 ({code})',
    micFailed: '麦克风打开失败 ({code})',
    pushRecovering: '推流中断，正在获取新的推流地址',
    phase_requesting: '准备中',
    phase_active: '进行中',
    phase_failed: '失败',
    pusher: '我的画面',
    noStreams: '房间里还没有其他人推流',
    muted: '静音',
    cameraClosed: '摄像头关闭',
    audioOnly: '仅音频',
    quality: ['未知', '极好', '好', '一般', '差', '很差', '不可用'],
    kbps: 'kbps',
    fps: 'fps',
    net: '网络',
    noticeTitle: '提示',
    kickedBody: '你已被移出房间',
    replacedBody: '同一 uid 在另一台设备加入了房间',
    tokenExpiredBody: 'Token 已过期',
    closedBody: '房间已被关闭',
    errorCode: '错误 {code}：{msg}',
    log: '日志',
    // live page
    notInRoom: '请先在房间页加入房间',
    preset: '布局',
    presetN: '{n} 人',
    bgColor: '背景色',
    bgImage: '背景图片 URL (可选)',
    streamUrl: '推流地址 (rtmp://…)',
    taskId: '任务 ID',
    record: '服务器录制',
    start: '开始',
    update: '更新布局',
    stop: '停止',
    noPublishers: '房间里没有正在推流的成员',
    badStreamUrl: '推流地址须以 rtmp:// 或 rtmps:// 开头',
    badColor: '颜色格式为 #RRGGBB',
    invalidField: '参数错误：{field}',
    taskStatus: '任务状态',
    task_505: '推流中',
    task_506: '失败：{msg}',
    task_511: '已结束',
    task_added: '已提交',
    layoutUsers: '画面中的成员：{uids}',
    colorBlack: '黑',
    colorWhite: '白',
    colorGreen: '绿',
    colorBlue: '蓝'
  },
  en: {
    langName: 'English',
    otherLang: '中文',
    joinTitle: 'Join a room',
    roomTitle: 'Room {room}',
    liveTitle: 'Live streaming',
    server: 'Server',
    serverHint: 'ws://LAN-IP:7880/ws or wss://domain/ws',
    appkey: 'App key',
    room: 'Room',
    uid: 'User id (uid)',
    role: 'Role',
    broadcaster: 'Broadcaster',
    audience: 'Audience',
    token: 'Token',
    tokenHint: 'May stay empty for an app key in debug (insecure) mode',
    fetchToken: 'Fetch debug token',
    fetchingToken: 'Fetching…',
    tokenFetched: 'Token fetched',
    tokenEndpointMissing: 'The server has no debug token endpoint (HTTP {status}); type a token: mprtc-server token --app {appkey} --secret … --room {room} --uid {uid}',
    tokenFetchFailed: 'Could not fetch a token: {msg}',
    join: 'Join',
    badServer: 'The server address starts with ws:// or wss://',
    badRoom: 'Enter a room name',
    badUid: 'The uid is 1 to 20 digits',
    needBaseLib: 'This WeChat has no WXWebAssembly (base library 2.14.0+ needed)',
    conn_connecting: 'Connecting',
    conn_connected: 'Connected',
    conn_reconnecting: 'Reconnecting (attempt {count})',
    conn_background: 'In the background; resumes when back',
    conn_disconnected: 'Connection lost',
    conn_kicked: 'Removed from the room',
    conn_replaced: 'The same uid joined elsewhere; this one is offline',
    conn_token_expired: 'The token expired; left the room',
    conn_closed: 'The room was closed',
    conn_failed: 'Could not join',
    conn_left: 'Left',
    me: 'me',
    members: 'Members ({count})',
    micOn: 'Mute',
    micOff: 'Unmute',
    cameraOn: 'Camera off',
    cameraOff: 'Camera on',
    toAudience: 'Become audience',
    toBroadcaster: 'Become broadcaster',
    live: 'Live streaming',
    leave: 'Leave',
    rejoin: 'Join again',
    back: 'Back',
    openSetting: 'Settings',
    cameraDenied: 'No camera permission; allow it in the settings',
    micDenied: 'No microphone permission; allow it in the settings',
    cameraFailed: 'The camera did not open ({code})',
    micFailed: 'The microphone did not open ({code})',
    pushRecovering: 'Pushing stopped; getting a fresh push URL',
    phase_requesting: 'starting',
    phase_active: 'live',
    phase_failed: 'failed',
    pusher: 'My camera',
    noStreams: 'Nobody else is publishing yet',
    muted: 'muted',
    cameraClosed: 'camera off',
    audioOnly: 'audio only',
    quality: ['unknown', 'excellent', 'good', 'fair', 'poor', 'bad', 'unusable'],
    kbps: 'kbps',
    fps: 'fps',
    net: 'network',
    noticeTitle: 'Notice',
    kickedBody: 'You were removed from the room',
    replacedBody: 'The same uid joined the room on another device',
    tokenExpiredBody: 'The token expired',
    closedBody: 'The room was closed',
    errorCode: 'Error {code}: {msg}',
    log: 'Log',
    notInRoom: 'Join a room on the room page first',
    preset: 'Layout',
    presetN: '{n} users',
    bgColor: 'Background colour',
    bgImage: 'Background image URL (optional)',
    streamUrl: 'Push to (rtmp://…)',
    taskId: 'Task id',
    record: 'Record on the server',
    start: 'Start',
    update: 'Update layout',
    stop: 'Stop',
    noPublishers: 'Nobody in the room is publishing',
    badStreamUrl: 'The push URL starts with rtmp:// or rtmps://',
    badColor: 'Colours are written #RRGGBB',
    invalidField: 'Invalid: {field}',
    taskStatus: 'Task status',
    task_505: 'pushing',
    task_506: 'failed: {msg}',
    task_511: 'ended',
    task_added: 'submitted',
    layoutUsers: 'On the canvas: {uids}',
    colorBlack: 'black',
    colorWhite: 'white',
    colorGreen: 'green',
    colorBlue: 'blue'
  }
};

function systemLang() {
  try {
    var info = wx.getSystemInfoSync();
    return String(info.language || '').indexOf('zh') === 0 ? 'zh' : 'en';
  } catch (e) {
    return 'zh';
  }
}

/** The current language: 'zh' or 'en'. */
function lang() {
  var saved = '';
  try {
    saved = wx.getStorageSync(STORAGE_KEY);
  } catch (e) {
    // storage unavailable: fall back to the phone's language
  }
  return TABLES[saved] ? saved : systemLang();
}

function setLang(l) {
  if (!TABLES[l]) return;
  try {
    wx.setStorageSync(STORAGE_KEY, l);
  } catch (e) {
    // not kept; the choice still holds for this page
  }
}

/** The text table of `l` (default: the current language). */
function strings(l) {
  return TABLES[l || lang()];
}

/** Replaces {name} in `text` with vars.name. */
function format(text, vars) {
  return String(text).replace(/\{(\w+)\}/g, function (all, name) {
    return vars && vars[name] !== undefined ? String(vars[name]) : all;
  });
}

module.exports = { lang: lang, setLang: setLang, strings: strings, format: format, TABLES: TABLES };
