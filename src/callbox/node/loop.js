'use strict';
// The worker's loop: read a frame, run the handler, write the result, as
// src/callbox/worker/loop.py does. Every failure of user code becomes a result; only a broken
// connection to the gateway ends the process. Invocations run concurrently on the event loop.

// Not the global: timers.js makes that one belong to the invocation that calls it.
const { setImmediate } = require('node:timers');
const { makeContext } = require('./context');
const { LoadError } = require('./loader');
const logs = require('./logs');
const reaper = require('./reaper');
const { renderError, renderSuccess } = require('./response');
const timers = require('./timers');

function isError(value) {
  // As on Twilio: any truthy error fails the invocation; callback(0, x) or callback('', x) succeed.
  return Boolean(value);
}

class Invocation {
  constructor(worker, id) {
    this.worker = worker;
    this.id = id;
    this.sink = new logs.LineSink((line) => worker.send({ type: 'log', id, ...line }));
    this.settled = false; // the first callback (or failure) happened
    this.ended = false; // its timers are cut off (timers.js)
    this.timers = [];
    this.loading = false; // its function file is being loaded (timers.js)
    this.variables = {};
    this.path = '';
    this.startedAt = performance.now();
    this.timeout = 0; // seconds: the invoke frame's execution limit
    this.reported = false; // its failure has its ERROR line
    this.callback = this.callback.bind(this);
  }

  /** The `callback(error, payload)` handed to user code. */
  callback(error, payload) {
    if (this.settled) {
      this.sink.emit(logs.WARN, 'callback() was called again after the invocation ended; ignored.');
      return;
    }
    this.settle(error, payload);
  }

  /** The first outcome wins; the result leaves once the code running now has finished. */
  settle(error, payload) {
    if (this.settled) return;
    this.settled = true;
    timers.cutOff(this);
    // Lines the handler writes synchronously after callback() still belong to the result.
    queueMicrotask(() => this.finish(() => this.render(error, payload)));
  }

  /** An exception or rejection the handler did not catch: an ERROR line and, if first, a 500. */
  fail(kind, error) {
    this.sink.emit(logs.ERROR, `${this.path} failed: ${kind}: ${this.shown(describe(error))}`);
    this.reported = true;
    this.settle(error || new Error(`${kind} (${String(error)})`), undefined);
  }

  render(error, payload) {
    if (isError(error)) {
      this.report(error);
      return renderError(error, this.worker.debug);
    }
    const rendered = renderSuccess(payload, String(this.variables.DOMAIN_NAME || ''));
    if (rendered.rejected !== undefined) {
      // An invalid status, cookie or body: a failure too.
      this.sink.emit(logs.ERROR, `${this.path} failed: ${rendered.rejected}`);
    }
    return rendered;
  }

  /** A failed invocation leaves an ERROR line with the stack, whatever the error body says. */
  report(error) {
    if (this.reported) return;
    this.reported = true;
    const text = error instanceof Error ? describe(error) : `callback() was given an error: ${describe(error)}`;
    this.sink.emit(logs.ERROR, `${this.path} failed: ${this.shown(text)}`);
  }

  /** A stack as the function's author reads it: callbox's and Node's own frames left out,
   * paths relative to the build. */
  shown(text) {
    const root = String(this.worker.spec.root || '').replace(/\/$/, '');
    const kept = text
      .split('\n')
      .filter((line) => !STACK_FRAME.test(line) || ownFrame(line));
    const joined = kept.join('\n');
    return root ? joined.split(`${root}/`).join('') : joined;
  }

  finish(render) {
    let result;
    try {
      result = render();
    } catch (error) {
      result = renderError(
        new Error(`The function's result could not be sent: ${describe(error, false)}`),
        this.worker.debug,
      );
    }
    this.worker.forget(this.id);
    if (this.sink.sent) return; // cancelled meanwhile: the gateway already has its answer
    const header = {
      type: 'result',
      id: this.id,
      status: result.status,
      headers: result.headers,
      logs: this.sink.take(),
      mode: 'async', // always on the event loop: there are no handler threads in Node
      retire: false,
    };
    this.worker.send(header, result.body);
  }

  run(route, variables, event) {
    this.variables = variables;
    this.path = route;
    let handler;
    this.loading = true;
    try {
      handler = this.worker.loader.handler(route);
    } catch (error) {
      if (!(error instanceof LoadError)) throw error;
      this.settled = true;
      this.report(error);
      this.finish(() => renderError(error, this.worker.debug));
      return;
    } finally {
      this.loading = false;
    }
    const deadline = this.timeout ? this.startedAt + this.timeout * 1000 : undefined;
    const context = makeContext(variables, { ...this.worker.contextOptions, deadline });
    let returned;
    try {
      returned = handler(context, event, this.callback);
    } catch (error) {
      this.settle(error || new Error(`The handler threw ${String(error)}`), undefined);
      return;
    }
    // An async handler or a returned promise: a rejection is the handler's error. What it
    // resolves to is ignored, as on Twilio: only callback() answers.
    if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
      Promise.resolve(returned).then(undefined, (error) =>
        this.settle(error || new Error(`The handler's promise was rejected with ${error}`)),
      );
    }
  }

  /** The gateway gave up on this invocation (deadline): stop it and hand back its logs. */
  cancel() {
    this.settled = true;
    timers.cutOff(this);
    const lines = this.sink.take();
    this.worker.send({ type: 'cancelled', id: this.id, logs: lines, thread_running: false });
  }
}

const STACK_FRAME = /^\s+at /;
const CALLBOX_NODE = `${__dirname}/`;

/** Whether a stack frame line is the function's (its code, its dependencies), not callbox's
 * runtime or Node's internals. */
function ownFrame(line) {
  return !(line.includes(CALLBOX_NODE) || /\(node:|at node:/.test(line));
}

function describe(error, withStack = true) {
  if (error instanceof Error) {
    return withStack && error.stack ? error.stack : `${error.name}: ${error.message}`;
  }
  try {
    return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

class WorkerLoop {
  constructor(spec, outbox, loader, loadTwilio) {
    this.spec = spec;
    this.outbox = outbox;
    this.loader = loader;
    this.debug = Boolean(spec.debug_errors);
    this.contextOptions = { local: Boolean(spec.local), loadTwilio };
    this.invocations = new Map();
    this.sweeping = false;
  }

  send(header, body) {
    this.outbox.put(header, body);
  }

  dispatch(frame) {
    if (frame.type === 'invoke') {
      const invocation = new Invocation(this, String(frame.id));
      invocation.timeout = Number(frame.timeout) || 0;
      this.invocations.set(invocation.id, invocation);
      logs.invocations.run(invocation, () => {
        try {
          invocation.run(String(frame.path), frame.context || {}, frame.event || {});
        } catch (error) {
          invocation.settle(error, undefined); // a bug of ours: still an answer
        }
      });
    } else if (frame.type === 'cancel') {
      const invocation = this.invocations.get(String(frame.id));
      this.forget(String(frame.id));
      if (invocation !== undefined) invocation.cancel();
      // Finished meanwhile: say so, or the gateway thinks the loop is blocked.
      else this.send({ type: 'cancelled', id: frame.id, logs: [], thread_running: false });
    }
  }

  /** The invocation is over; with none left, no process any of them started may live on. */
  forget(id) {
    this.invocations.delete(id);
    if (this.invocations.size === 0 && !this.sweeping) {
      this.sweeping = true;
      // After the result has left: the sweep is the worker's business, not the answer's.
      logs.invocations.exit(() =>
        setImmediate(() => {
          this.sweeping = false;
          if (this.invocations.size === 0) reaper.sweep();
        }),
      );
    }
  }

  /** An exception or rejection nobody caught: the invocation it belongs to fails. */
  uncaught(kind, error) {
    const invocation = logs.current();
    if (invocation !== undefined) invocation.fail(kind, error);
    else process.stderr.write(`callbox worker: ${kind}: ${describe(error)}\n`);
  }
}

module.exports = { Invocation, WorkerLoop };
