'use strict';
// Push-task section: runs bench/tasks.js (its own benchmark, with its own baseline) in a child
// process and takes its JSON into the combined report.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnTracked, table } = require('./common');

function run({ runs = 3, cpuSecs = 10 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-bench-tasks-'));
  const out = path.join(dir, 'tasks.json');
  return new Promise((resolve, reject) => {
    // Its table goes to our stderr: our stdout may be carrying JSON (--out -).
    const child = spawnTracked(process.execPath, [path.join(__dirname, 'tasks.js'), '--runs', String(runs), '--cpu-secs', String(cpuSecs), '--out', out],
      { stdio: ['ignore', process.stderr, process.stderr] });
    child.on('exit', (code) => {
      try {
        const r = JSON.parse(fs.readFileSync(out, 'utf8'));
        if (code !== 0) r.exitCode = code;
        resolve(r);
      } catch (e) {
        reject(new Error(`bench/tasks.js exited with ${code} and no result`));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

function rows(r) {
  const s = r.summary;
  return [
    ['push task: addTasks() -> 505 (pushing), p50', `${s.addTo505Ms.p50} ms`, `plain ffmpeg ${s.baselineFirstFrameMs.p50} ms`,
      '<= 1.5x plain ffmpeg', s.addTo505Ms.p50 <= 1.5 * s.baselineFirstFrameMs.p50],
    ['push task: updateTasks() -> new layout at a viewer, p50', `${s.updateVisibleMs.p50} ms`, '-', '<= 500 ms', s.updateVisibleMs.p50 <= 500],
    ['push task: largest gap between output frames during updates', `${s.largestGapMs.max} ms`, '-',
      '<= 3 frames (200 ms)', s.largestGapMs.max <= 200],
    ['push task: compositor CPU at 720p30, four members', `${s.compositorCpuPct.p50}%`, `plain ffmpeg, one member: ${s.baselineCpuPct.p50}%`, '-', null],
  ];
}

function detail(r) {
  const s = r.summary;
  const line = (name, k) => [name, s[k].p50, s[k].max];
  return [
    `${r.runs.length - r.failedRuns}/${r.runs.length} runs ok.`,
    '',
    table([
      ['', 'p50', 'max'],
      line('addTasks() -> rtmp-tasks-status 505, ms', 'addTo505Ms'),
      line('baseline: plain ffmpeg spawn -> first output frame, ms', 'baselineFirstFrameMs'),
      line('addTasks() -> layout seen in the output, ms', 'addSeenMs'),
      line('updateTasks() -> new layout in a continuous viewer\'s frames, ms', 'updateVisibleMs'),
      line('largest gap between output frames during updates, ms', 'largestGapMs'),
      line('mprtc-compositor CPU, 4 members at 720p30, % of a core', 'compositorCpuPct'),
      line('baseline ffmpeg CPU, 1 member at 720p30, % of a core', 'baselineCpuPct'),
      line('a task\'s compositor CPU, 2 members at 720p15, % of a core', 'taskCpuPct'),
    ]),
  ].join('\n');
}

module.exports = { run, rows, detail };
