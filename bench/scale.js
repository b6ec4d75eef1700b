'use strict';
// Server-scale section: a fresh mprtc-server per phase, loaded by mprtc-loadgen (bench/loadgen:
// every simulated member is the real Rust core over its own WebSocket on loopback). The load
// generator shares the machine's cores with the server; it samples the server's CPU and
// memory from /proc itself and reports its own CPU beside them.
//
//   idle    10,000 members in 1,000 rooms, heartbeats running: server memory per member
//           (RSS growth over the empty server / members; goal < 16 KB) and CPU at idle.
//   fanout  1,000 members in one room, one publishes: time until the last member has
//           stream-added (goal p99 < 50 ms).
//   events  rooms where one member changes state in a loop, the next change only after all
//           others saw the last: delivered events per second per server core (goal > 50,000).

const fs = require('node:fs');
const { log, round, table, runJson } = require('./common');
const { startServer } = require('../tests/e2e/support');

/** The soft open-files limit of this process (children inherit it). */
function openFilesLimit() {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  const n = (s) => (s === 'unlimited' ? Infinity : Number(s));
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: Infinity, hard: Infinity };
}

/** The load generator's thousands of members all come from 127.0.0.1: lift the per-IP caps. */
const LOOPBACK_CROWD = ['--max-connections', '1000000', '--max-connections-per-ip', '1000000',
  '--rtmp-max-connections', '1000000', '--rtmp-max-connections-per-ip', '1000000',
  '--flv-max-connections', '1000000', '--flv-max-connections-per-ip', '1000000'];

async function phase(name, serverArgs, loadgen, args, timeoutMs) {
  // The crowd joins the token-less demo app, whose rooms are capped at 100 unless raised.
  const server = await startServer(LOOPBACK_CROWD.concat(serverArgs), { demoMaxRooms: 1000000 });
  try {
    const url = server.endpoints.signal;
    log(`scale: ${name}: server pid ${server.process.pid} ${serverArgs.join(' ')}`);
    return await runJson(loadgen, [name, '--url', url, '--server-pid', String(server.process.pid), ...args], { timeoutMs, prefix: '  ' });
  } finally {
    await server.stop();
  }
}

async function run({ loadgen, members = 10000, rooms = 1000, holdSecs = 30, fanoutMembers = 1000, trials = 10,
  eventRooms = 50, perRoom = 100, eventSecs = 15 } = {}) {
  const limit = openFilesLimit();
  const need = members + 200;
  const r = { openFiles: limit };
  if (limit.soft < need) {
    r.warning = `open-files limit ${limit.soft} (hard ${limit.hard}) is below the ${need} sockets the idle phase needs; ` +
      'scripts/bench raises the soft limit to the hard one; raise the hard limit (limits.conf / systemd) for the full run';
    log(`scale: ${r.warning}`);
    members = Math.max(100, Math.floor((limit.soft - 200) / 10) * 10);
    rooms = Math.min(rooms, members / 10);
  }
  r.idle = await phase('idle', [], loadgen,
    ['--members', String(members), '--rooms', String(rooms), '--hold-secs', String(holdSecs), '--concurrency', '100'], 600000);
  r.fanout = await phase('fanout', [], loadgen,
    ['--members', String(fanoutMembers), '--trials', String(trials), '--ffmpeg', process.env.FFMPEG || 'ffmpeg'], 300000);
  r.events = await phase('events', ['--max-requests-per-sec', '100000'], loadgen,
    ['--rooms', String(eventRooms), '--per-room', String(perRoom), '--secs', String(eventSecs)], 300000);
  r.goals = {
    bytesPerMember: { goal: 16 * 1024, met: r.idle.server.bytesPerMember < 16 * 1024 },
    fanoutP99Ms: { goal: 50, met: r.fanout.streamAdded.deliveredMs.p99 < 50 },
    eventsPerCoreSec: { goal: 50000, met: r.events.eventsPerServerCoreSec > 50000 },
  };
  return r;
}

function rows(r) {
  const i = r.idle;
  const f = r.fanout;
  const e = r.events;
  return [
    [`scale: server memory per member (${i.members} members, ${i.rooms} rooms)`, `${round(i.server.bytesPerMember / 1024, 1)} KiB`,
      `${round(i.server.rssAfterHoldBytes / 2 ** 20, 0)} MiB RSS in all`, '< 16 KiB', r.goals.bytesPerMember.met],
    ['scale: server CPU at idle, heartbeats running', `${i.server.idleCpuPct}% of a core`, '-', '-', null],
    [`scale: ${f.members}-member room, publish -> stream-added p99 / last`, `${f.streamAdded.deliveredMs.p99} / ${f.streamAdded.lastPerTrialMs.max} ms`,
      `with push start: last after ${f.publishWithPush.lastMs} ms`, 'p99 < 50 ms', r.goals.fanoutP99Ms.met],
    ['scale: events delivered per server core-second', `${e.eventsPerServerCoreSec}`,
      `${e.eventsPerSec}/s at ${e.serverCpuPct}% server CPU`, '> 50,000', r.goals.eventsPerCoreSec.met],
  ];
}

function detail(r) {
  const i = r.idle;
  const f = r.fanout;
  const e = r.events;
  const mib = (b) => round(b / 2 ** 20, 1);
  return [
    (r.warning ? `**${r.warning}**\n\n` : '') +
    `Idle: ${i.members} members in ${i.rooms} rooms joined in ${i.join.rampSecs} s (${i.join.joinsPerSec} joins/s, ` +
      `join p50 ${i.join.joinMs.p50} ms, p99 ${i.join.joinMs.p99} ms with 100 in flight), then ${i.holdSecs} s idle: ` +
      `server RSS ${mib(i.server.rssBeforeBytes)} MiB empty -> ${mib(i.server.rssAfterHoldBytes)} MiB ` +
      `(${round(i.server.bytesPerMember)} B per member), server CPU ${i.server.idleCpuPct}% of a core, ` +
      `load generator CPU ${i.loadgen.idleCpuPct}% and RSS ${mib(i.loadgen.rssBytes)} MiB; connection trouble: ${i.connectionTrouble}.`,
    '',
    table([
      [`${f.members}-member room (${f.trials} trials), ms`, 'p50', 'p90', 'p99', 'max'],
      ['publish(\'video\') -> stream-added at each member', f.streamAdded.deliveredMs.p50, f.streamAdded.deliveredMs.p90, f.streamAdded.deliveredMs.p99, f.streamAdded.deliveredMs.max],
      ['... time until the last member (per trial)', f.streamAdded.lastPerTrialMs.p50, f.streamAdded.lastPerTrialMs.p90, f.streamAdded.lastPerTrialMs.p99, f.streamAdded.lastPerTrialMs.max],
      ['unpublish(\'video\') -> stream-removed at each member', f.streamRemoved.deliveredMs.p50, f.streamRemoved.deliveredMs.p90, f.streamRemoved.deliveredMs.p99, f.streamRemoved.deliveredMs.max],
      ['the publisher\'s own reply', f.publisherReplyMs.p50, f.publisherReplyMs.p90, f.publisherReplyMs.p99, f.publisherReplyMs.max],
      ['publish() with a real push (ffmpeg start included) -> stream-added', f.publishWithPush.deliveredMs.p50, f.publishWithPush.deliveredMs.p90, f.publishWithPush.deliveredMs.p99, f.publishWithPush.deliveredMs.max],
    ]),
    '',
    `Joining the ${f.members}-member room took ${f.joinRampSecs} s; server RSS with it: ${mib(f.serverRssBytes)} MiB.`,
    '',
    `Events: ${e.rooms} rooms x ${e.membersPerRoom} members, one member per room muting/unmuting: ${e.eventsPerSec} events/s delivered ` +
      `over ${e.windowSecs} s with the server at ${e.serverCpuPct}% of a core (${e.eventsPerServerCoreSec} events per server core-second) ` +
      `and the load generator at ${e.loadgenCpuPct}%; a round (change -> all ${e.membersPerRoom - 1} others have it) took ` +
      `${e.roundMs.p50} ms p50, ${e.roundMs.p99} ms p99; server RSS ${mib(e.serverRssBytes)} MiB.`,
  ].join('\n');
}

module.exports = { run, rows, detail };
