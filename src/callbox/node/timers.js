'use strict';
// "After executing the callback(), your Function execution will be terminated. This includes
// any asynchronous processes that may still be executing." (Twilio, Function Execution.)
// A worker serves many invocations, so it cannot end a process per invocation: instead the
// timers an invocation started are cleared when it ends, and the ones it starts afterwards
// never fire (the Python worker cancels the asyncio tasks of the invocation the same way).

const timers = require('node:timers');
const logs = require('./logs');

const KINDS = [
  ['setTimeout', 'clearTimeout'],
  ['setInterval', 'clearInterval'],
  ['setImmediate', 'clearImmediate'],
];

function install() {
  for (const [set, clear] of KINDS) {
    const original = timers[set];
    const cancel = timers[clear];
    const wrapped = function (...args) {
      const invocation = logs.current();
      if (invocation === undefined) return original.apply(this, args);
      // A timer a function file starts while it loads is the module's, not the invocation's:
      // it outlives the invocation, and what it logs goes to the worker's own output.
      if (invocation.loading) return logs.invocations.exit(() => original.apply(this, args));
      const handle = original.apply(this, args);
      if (invocation.ended) cancel(handle);
      else invocation.timers.push([handle, cancel]);
      return handle;
    };
    Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
    globalThis[set] = wrapped;
  }
}

/** The invocation is over: its pending timers never fire. */
function cutOff(invocation) {
  invocation.ended = true;
  for (const [handle, cancel] of invocation.timers) cancel(handle);
  invocation.timers = [];
}

module.exports = { cutOff, install };
