// Push-task objects for the live page's presets: 1, 2 or 4 members on a 1280x720 canvas, a
// background colour and an optional picture. The SDK checks every field again before sending.

var CANVAS = { width: 1280, height: 720 };

// Rectangles of each preset. Two members share the width and keep their picture's aspect
// (adaption 1), so the background shows above and below them; four fill a 2x2 grid.
var PRESETS = {
  1: [{ x: 0, y: 0, width: 1280, height: 720, adaption: 1 }],
  2: [
    { x: 0, y: 0, width: 640, height: 720, adaption: 1 },
    { x: 640, y: 0, width: 640, height: 720, adaption: 1 }
  ],
  4: [
    { x: 0, y: 0, width: 640, height: 360, adaption: 0 },
    { x: 640, y: 0, width: 640, height: 360, adaption: 0 },
    { x: 0, y: 360, width: 640, height: 360, adaption: 0 },
    { x: 640, y: 360, width: 640, height: 360, adaption: 0 }
  ]
};

// The picture sits in the top-right corner, above the members.
var IMAGE_BOX = { x: 1280 - 320 - 16, y: 16, width: 320, height: 180, adaption: 1 };

/** '#RRGGBB' (or 'RRGGBB') as a decimal RGB number, or null. */
function colorNumber(text) {
  var m = /^#?([0-9a-fA-F]{6})$/.exec(String(text || '').trim());
  return m ? parseInt(m[1], 16) : null;
}

/**
 * The task: `uids` fill the preset's rectangles in order (extra uids are left out, missing ones
 * leave their rectangle to the background).
 */
function buildTask(o) {
  var boxes = PRESETS[o.preset] || PRESETS[1];
  var users = [];
  for (var i = 0; i < boxes.length && i < o.uids.length; i++) {
    var b = boxes[i];
    users.push({
      uid: o.uids[i],
      x: b.x,
      y: b.y,
      width: b.width,
      height: b.height,
      adaption: b.adaption,
      zOrder: i + 1,
      pushAudio: true,
      pushVideo: true
    });
  }
  var layout = {
    canvas: { width: CANVAS.width, height: CANVAS.height, color: o.color },
    users: users
  };
  if (o.image) {
    layout.images = [Object.assign({ url: o.image }, IMAGE_BOX)];
  }
  return {
    taskId: o.taskId,
    streamUrl: o.streamUrl,
    record: !!o.record,
    layout: layout,
    config: { audioParam: { bitRate: 64, channels: 2, codecProfile: 0, sampleRate: 48000 } }
  };
}

module.exports = { PRESETS: PRESETS, CANVAS: CANVAS, colorNumber: colorNumber, buildTask: buildTask };
