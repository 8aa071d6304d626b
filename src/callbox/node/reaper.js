'use strict';
// No process an invocation started outlives it: once the worker has no invocation running,
// every process below it is killed, as src/callbox/worker/reaper.py does for Python.
//
// In the sandbox the worker is PID 1 of its own PID namespace: one kill(-1) reaches every
// other process in it (PID 1 itself is spared), and the kernel kills them all when the worker
// exits. Elsewhere its descendants are found through /proc and killed, deepest last.
// Node cannot wait for processes it did not start with child_process: an orphan killed here
// stays a zombie (holding a process slot) until the worker exits.

const fs = require('node:fs');

const ROUNDS = 20; // a child may start another while it is being killed; each round goes deeper

function children(pid) {
  const found = [];
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
      for (const word of text.split(/\s+/)) if (word) found.push(Number(word));
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

function kill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** Kill every process below this one; true if there was any. */
function sweep() {
  if (process.pid === 1) return kill(-1);
  let killed = false;
  for (let round = 0; round < ROUNDS; round += 1) {
    const below = [];
    const queue = children(process.pid);
    while (queue.length) {
      const pid = queue.shift();
      below.push(pid);
      queue.push(...children(pid));
    }
    if (!below.length) break;
    for (const pid of below) killed = kill(pid) || killed;
  }
  return killed;
}

module.exports = { sweep };
