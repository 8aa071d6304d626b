'use strict';
// Tie every line a function writes (console.*, process.stdout / stderr) to the invocation that
// wrote it: AsyncLocalStorage follows the invocation through timers, promises and I/O callbacks.

const { AsyncLocalStorage } = require('node:async_hooks');
const util = require('node:util');

const INFO = 'INFO';
const WARN = 'WARN';
const ERROR = 'ERROR';

const invocations = new AsyncLocalStorage();

/** The invocation whose code is running, or undefined (worker code, or no invocation). */
function current() {
  return invocations.getStore();
}

/** Where an invocation's lines go: a list until its result is sent, then `late(line)`. */
class LineSink {
  constructor(late) {
    this.lines = [];
    this.sent = false;
    this.late = late;
    this.partial = { [INFO]: '', [ERROR]: '' };
  }

  emit(level, message) {
    const line = { level, message, time: Date.now() / 1000 };
    if (this.sent) this.late(line);
    else this.lines.push(line);
  }

  /** Whole lines written to a stream; a partial last line waits for more (or for take()). */
  write(level, text) {
    const parts = (this.partial[level] + text).split('\n');
    this.partial[level] = parts.pop();
    for (const part of parts) this.emit(level, part);
    // After the result nothing would flush a partial line later: send it as it is.
    if (this.sent && this.partial[level]) this.flushPartial(level);
  }

  flushPartial(level) {
    const rest = this.partial[level];
    this.partial[level] = '';
    if (rest) this.emit(level, rest);
  }

  take() {
    this.flushPartial(INFO);
    this.flushPartial(ERROR);
    const lines = this.lines;
    this.lines = [];
    this.sent = true;
    return lines;
  }
}

const CONSOLE_LEVELS = {
  log: INFO,
  info: INFO,
  debug: INFO,
  trace: ERROR,
  warn: WARN,
  error: ERROR,
};

/** Route console.* and process.stdout / stderr writes of user code into invocation logs. */
function install() {
  for (const [name, level] of Object.entries(CONSOLE_LEVELS)) {
    const original = console[name].bind(console);
    console[name] = function (...args) {
      const invocation = current();
      if (invocation === undefined) return original(...args);
      let message = util.format(...args);
      if (name === 'trace') message = `Trace: ${message}\n${traceOf(console[name])}`;
      // One console call is one log line, as on Twilio (a message may hold several lines).
      invocation.sink.emit(level, message);
    };
  }
  for (const [stream, level] of [
    [process.stdout, INFO],
    [process.stderr, ERROR],
  ]) {
    const original = stream.write.bind(stream);
    stream.write = function (chunk, encoding, done) {
      const invocation = current();
      if (invocation === undefined) return original(chunk, encoding, done);
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      invocation.sink.write(level, text);
      const callback = typeof encoding === 'function' ? encoding : done;
      if (typeof callback === 'function') process.nextTick(callback);
      return true;
    };
  }
  // A library's process.emitWarning() (a deprecation, say) is a WARN line, not stderr's ERROR.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const invocation = current();
    const text = `${warning.name}: ${warning.message}`;
    if (invocation === undefined) process.stderr.write(`${text}\n`);
    else invocation.sink.emit(WARN, text);
  });
}

function traceOf(skip) {
  const holder = {};
  Error.captureStackTrace(holder, skip);
  return holder.stack.split('\n').slice(1).join('\n');
}

module.exports = { INFO, WARN, ERROR, LineSink, current, install, invocations };
