// The one room session the pages share. The join page leaves the form here, the room page opens
// the client and owns the room, the live page (another package) borrows the same client. A
// module is loaded once per mini-program, so every page sees the same state.

var SDK = require('mprtc');

var pending = null; // what the join page asked for
var current = null; // { client, params, members, tasks }

/** Keeps the join form for the room page. */
function prepare(params) {
  pending = params;
}

/** The join form left by the join page (or null). */
function pendingParams() {
  return pending;
}

/**
 * Creates the client for `params` ({server, appkey, room, uid, role, token}). NetEase's Client
 * is one per mini-program, so a previous session is destroyed first.
 */
function open(params) {
  close();
  var client = SDK.Client({ appkey: params.appkey, server: params.server, debug: true });
  current = { client: client, params: params, members: [], tasks: {} };
  var session = current;
  // Task status arrives wherever the user is; the live page shows what came meanwhile.
  client.on('rtmp-tasks-status', function (s) {
    session.tasks[s.taskId] = s;
  });
  return client;
}

function client() {
  return current ? current.client : null;
}

function params() {
  return current ? current.params : null;
}

/** The room page publishes its member list here for the live page. */
function setMembers(list) {
  if (current) current.members = list;
}

function members() {
  return current ? current.members : [];
}

/** The latest rtmp-tasks-status of each task, by task id. */
function tasks() {
  return current ? current.tasks : {};
}

/** Ends the session: the client is destroyed (its socket closed, its listeners dropped). */
function close() {
  if (!current) return;
  var c = current.client;
  current = null;
  c.destroy();
}

module.exports = {
  prepare: prepare,
  pendingParams: pendingParams,
  open: open,
  client: client,
  params: params,
  setMembers: setMembers,
  members: members,
  tasks: tasks,
  close: close
};
