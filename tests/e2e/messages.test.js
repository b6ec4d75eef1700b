'use strict';
// Room messages between the two dialects in one room, through the built pkg/ in the simulated
// runtime against a real server: a ZEGO engine's chat, barrage and custom command reach a
// NetEase client as `message` events and the NetEase client's messages reach the engine as
// ZEGO's IMRecv* events, with the sender, the room's message ids and the server's times; bad
// messages and floods are answered with typed errors.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { REPO, startServer } = require('./support');
const { miniProgram, waitFor } = require('./mp');

const plain = (x) => JSON.parse(JSON.stringify(x));

function token(room, uid) {
  const bin = REPO + '/target/debug/mprtc-server';
  return execFileSync(bin, ['token', '--app', 'secure', '--room', room, '--uid', String(uid), '--secret', 'secure-secret']).toString().trim();
}

/** A ZEGO engine named `name` in its own mini-program, with `seen`: each of `events` as it
 * came, [name, ...arguments after the room ID]. */
function zegoEngine(t, url, name, events) {
  const zg = new (miniProgram(t, { name }).require('mprtc').ZegoExpressEngine)('secure', url);
  t.after(() => zg.destroyEngine());
  const seen = [];
  for (const ev of events) zg.on(ev, (...args) => seen.push([ev, ...plain(args.slice(1))]));
  return { zg, seen };
}

test('a ZEGO engine and a NetEase client in one room exchange messages; limits answer with typed errors', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'msg' + process.pid;
  const url = server.endpoints.signal;

  const { ZegoExpressEngine } = miniProgram(t).require('mprtc');
  const zg = new ZegoExpressEngine('secure', url);
  t.after(() => zg.destroyEngine());
  const zegoGot = [];
  zg.on('IMRecvBroadcastMessage', (roomID, list) => zegoGot.push(['broadcast', roomID, plain(list)]));
  zg.on('IMRecvBarrageMessage', (roomID, list) => zegoGot.push(['barrage', roomID, plain(list)]));
  zg.on('IMRecvCustomCommand', (roomID, fromUser, command) => zegoGot.push(['command', roomID, plain(fromUser), command]));
  await zg.loginRoom(room, token(room, 'anna'), { userID: 'anna', userName: 'Anna' });

  const ne = miniProgram(t).require('mprtc').Client({ appkey: 'secure', server: url });
  t.after(() => ne.destroy());
  const neGot = [];
  ne.on('message', (m) => neGot.push(plain(m)));
  await ne.join({ channelName: room, uid: 42, token: token(room, 42) });

  // ZEGO -> NetEase: the three kinds; the command names the NetEase member by its user id
  // (a NetEase uid is its own user id, in decimal).
  const r1 = await zg.sendBroadcastMessage(room, 'hello');
  const r2 = await zg.sendBarrageMessage(room, '666');
  const r3 = await zg.sendCustomCommand(room, '{"op":"mic-off"}', ['42']);
  assert.deepEqual([r1.errorCode, r2.errorCode, r3.errorCode], [0, 0, 0]);
  assert.ok(r1.messageID < r2.messageID && r2.messageID < r3.messageID, 'the room numbers them in order');
  await waitFor(() => neGot.length >= 3, 'three messages at the NetEase client', 15000, () => JSON.stringify(neGot));
  const annaUid = neGot[0].uid;
  assert.deepEqual(neGot.map((m) => [m.type, m.text, m.id, m.uid]), [
    ['broadcast', 'hello', r1.messageID, annaUid],
    ['barrage', '666', r2.messageID, annaUid],
    ['command', '{"op":"mic-off"}', r3.messageID, annaUid],
  ]);
  assert.ok(neGot.every((m) => Math.abs(m.ts - Date.now()) < 60000), 'server times');

  // NetEase -> ZEGO, with the sender as ZEGO names users.
  const sent = await ne.sendMessage({ type: 'broadcast', text: '你好' });
  await ne.sendMessage({ type: 'barrage', text: 'wow' });
  await ne.sendMessage({ type: 'command', text: 'kick?', to: [] });
  await waitFor(() => zegoGot.length >= 3, 'three messages at the ZEGO engine', 15000, () => JSON.stringify(zegoGot));
  const neUser = { userID: '42', userName: '' };
  assert.deepEqual(zegoGot, [
    ['broadcast', room, [{ fromUser: neUser, message: '你好', sendTime: sent.ts, messageID: sent.id }]],
    ['barrage', room, [{ fromUser: neUser, message: 'wow', sendTime: zegoGot[1][2][0].sendTime, messageID: sent.id + 1 }]],
    ['command', room, neUser, 'kick?'],
  ]);
  // Nobody hears their own messages back.
  assert.equal(neGot.length, 3);

  // Bad input: typed errors, nothing sent.
  await assert.rejects(zg.sendBroadcastMessage(room, 'x'.repeat(1025)), (e) => e.code === 1001 && e.reason === 'invalid_argument');
  await assert.rejects(zg.sendBroadcastMessage(room, ''), (e) => e.code === 1001);
  await assert.rejects(ne.sendMessage({ type: 'shout', text: 'x' }), (e) => e.code === 1001);
  await assert.rejects(ne.sendMessage({ type: 'broadcast', text: 'x', to: [1] }), (e) => e.code === 1001);
  // A flood: more than 10 within a second from one member are refused by the server (4029);
  // 30 at once leave at least 10 over however the second falls.
  const flood = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => zg.sendBarrageMessage(room, 'f' + i)));
  const refused = flood.filter((r) => r.status === 'rejected');
  assert.ok(refused.length >= 10, `at least 10 of 30 refused: ${flood.map((r) => r.status).join(' ')}`);
  assert.ok(refused.every((r) => r.reason.code === 4029 && r.reason.reason === 'limit_exceeded'), String(refused[0].reason));
  // What went through arrived, once each, in the order the room numbered it.
  const passed = flood.filter((r) => r.status === 'fulfilled').map((r) => r.value.messageID);
  await waitFor(() => neGot.length >= 3 + passed.length, 'the flood that passed', 15000);
  assert.deepEqual(neGot.slice(3).map((m) => m.id), passed.slice().sort((a, b) => a - b));

  await ne.leave();
  await zg.logoutRoom(room);
});

test('ZEGO extra info, user names and the online count, for members there and members joining later', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'info' + process.pid;
  const url = server.endpoints.signal;
  const engine = (name) => zegoEngine(t, url, name, ['streamExtraInfoUpdate', 'roomExtraInfoUpdate', 'roomOnlineUserCountUpdate', 'roomUserUpdate', 'roomStreamUpdate']);

  const a = engine('anna');
  await a.zg.loginRoom(room, token(room, 'anna'), { userID: 'anna', userName: 'Anna' }, { userUpdate: true });
  assert.deepEqual(a.seen, [['roomOnlineUserCountUpdate', 1]]);
  await a.zg.startPublishingStream('anna-cam');
  assert.deepEqual(plain(await a.zg.setStreamExtraInfo('anna-cam', '{"cam":"front"}')), { errorCode: 0 });
  assert.deepEqual(plain(await a.zg.setRoomExtraInfo(room, 'topic', 'rust')), { errorCode: 0 });

  // Ben joins later: he is told what is set, and Anna sees him come, by name.
  const b = engine('ben');
  await b.zg.loginRoom(room, token(room, 'ben'), { userID: 'ben', userName: 'Ben' });
  await waitFor(() => b.seen.some((e) => e[0] === 'roomExtraInfoUpdate') && b.seen.some((e) => e[0] === 'streamExtraInfoUpdate'), 'Ben is told the extra info', 15000, () => JSON.stringify(b.seen));
  const roomInfo = b.seen.find((e) => e[0] === 'roomExtraInfoUpdate')[1];
  assert.deepEqual(roomInfo.map(({ key, value, updateUser }) => ({ key, value, updateUser })), [{ key: 'topic', value: 'rust', updateUser: { userID: 'anna', userName: 'Anna' } }]);
  assert.deepEqual(b.seen.find((e) => e[0] === 'streamExtraInfoUpdate')[1], [{ streamID: 'anna-cam', user: { userID: 'anna', userName: 'Anna' }, extraInfo: '{"cam":"front"}' }]);
  assert.ok(b.seen.some((e) => e[0] === 'roomOnlineUserCountUpdate' && e[1] === 2), JSON.stringify(b.seen));
  await waitFor(() => a.seen.some((e) => e[0] === 'roomUserUpdate'), 'Anna sees Ben', 15000);
  assert.deepEqual(a.seen.find((e) => e[0] === 'roomUserUpdate').slice(1), ['ADD', [{ userID: 'ben', userName: 'Ben' }]]);
  assert.ok(a.seen.some((e) => e[0] === 'roomOnlineUserCountUpdate' && e[1] === 2));

  // A change while both are in: Ben hears it.
  await a.zg.setStreamExtraInfo('anna-cam', '{"cam":"back"}');
  await waitFor(() => b.seen.filter((e) => e[0] === 'streamExtraInfoUpdate').length >= 2, 'the second stream info', 15000);
  assert.equal(b.seen.filter((e) => e[0] === 'streamExtraInfoUpdate')[1][1][0].extraInfo, '{"cam":"back"}');
  // Bad input: typed errors.
  await assert.rejects(a.zg.setRoomExtraInfo(room, '', 'x'), (e) => e.code === 1001);
  await assert.rejects(a.zg.setStreamExtraInfo('anna-cam', 'x'.repeat(1025)), (e) => e.code === 1001);

  // Ben leaves: Anna's count goes back to 1.
  await b.zg.logoutRoom(room);
  await waitFor(() => a.seen.filter((e) => e[0] === 'roomOnlineUserCountUpdate').slice(-1)[0][1] === 1, 'the count back to 1', 15000, () => JSON.stringify(a.seen));
  await a.zg.logoutRoom(room);
});

test('a room extra info set by a member who has left does not count that member as online', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'gone' + process.pid;
  const url = server.endpoints.signal;
  const engine = (name) => zegoEngine(t, url, name, ['roomExtraInfoUpdate', 'roomOnlineUserCountUpdate']);
  const login = (e, id) => e.zg.loginRoom(room, token(room, id), { userID: id, userName: id.toUpperCase() });
  const a = engine('anna');
  const b = engine('ben');
  await login(a, 'anna');
  await login(b, 'ben');
  await a.zg.setRoomExtraInfo(room, 'topic', 'rust');
  await a.zg.logoutRoom(room);
  await waitFor(() => b.seen.filter((e) => e[0] === 'roomOnlineUserCountUpdate').slice(-1)[0][1] === 1, 'Ben alone', 15000, () => JSON.stringify(b.seen));

  // Cara joins: she is told the topic Anna set, and counts Ben and herself only.
  const c = engine('cara');
  await login(c, 'cara');
  await waitFor(() => c.seen.some((e) => e[0] === 'roomExtraInfoUpdate'), 'Cara is told the topic', 15000, () => JSON.stringify(c.seen));
  const info = c.seen.find((e) => e[0] === 'roomExtraInfoUpdate')[1][0];
  assert.equal(info.value, 'rust');
  // Ben leaves: Cara is alone (the count she hears after his leave, whatever came before).
  const counts = () => c.seen.filter((e) => e[0] === 'roomOnlineUserCountUpdate').map((e) => e[1]);
  const before = counts().length;
  await b.zg.logoutRoom(room);
  await waitFor(() => counts().length > before, 'Cara hears Ben leave', 15000, () => JSON.stringify(c.seen));
  assert.equal(counts()[before], 1, JSON.stringify(c.seen));
  await c.zg.logoutRoom(room);
});
