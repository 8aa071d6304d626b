'use strict';
// A Node.js worker: `node worker.js`, started as src/callbox/worker/frames.py ("Starting a
// worker") says: fd 3 is a Unix stream socket connected to the gateway, fd 4 a pipe holding the
// WorkerSpec as JSON, the working directory is the build's root, the sandbox already applied.
// It says hello, then serves invoke / cancel frames until the gateway closes the socket.

const fs = require('node:fs');
const net = require('node:net');
const globals = require('./globals');
const { Loader } = require('./loader');
const logs = require('./logs');
const { WorkerLoop } = require('./loop');
const { FrameReader, Outbox, SOCKET_FD, SPEC_FD } = require('./protocol');
const timers = require('./timers');

const exit = process.exit.bind(process);

function readSpec() {
  const spec = JSON.parse(fs.readFileSync(SPEC_FD, 'utf8'));
  fs.closeSync(SPEC_FD);
  return spec;
}

function guardExit() {
  // One worker serves many invocations: a function must not end it for all of them.
  process.exit = function (code) {
    if (logs.current() === undefined) return exit(code);
    throw new Error(
      `process.exit(${code === undefined ? '' : code}) was called: a function cannot end its ` +
        'worker; answer with callback() instead.',
    );
  };
}

function main() {
  const spec = readSpec();
  if (spec.root) process.chdir(spec.root);
  globals.addPackageFolders(spec.site_packages || []);
  const loadTwilio = globals.twilioLoader(spec.root || process.cwd());
  logs.install();
  timers.install();
  guardExit();
  globals.install(spec, loadTwilio);
  // Warm: pay for loading `twilio` now, not in the first request (when the build has it).
  if (loadTwilio.available()) {
    try {
      loadTwilio();
    } catch (error) {
      process.stderr.write(`callbox worker: the twilio package failed to load: ${error.stack}\n`);
    }
  }

  const socket = new net.Socket({ fd: SOCKET_FD, readable: true, writable: true });
  const worker = new WorkerLoop(spec, new Outbox(socket), new Loader(spec), loadTwilio);
  process.on('uncaughtException', (error) => worker.uncaught('Uncaught exception', error));
  process.on('unhandledRejection', (reason) =>
    worker.uncaught('Unhandled promise rejection', reason),
  );
  const reader = new FrameReader((frame) => worker.dispatch(frame));
  socket.on('data', (chunk) => {
    try {
      reader.feed(chunk);
    } catch (error) {
      process.stderr.write(`callbox worker: ${error.message}; stopping.\n`);
      exit(1);
    }
  });
  // The gateway closed the connection: this worker is done.
  socket.on('end', () => exit(0));
  socket.on('error', (error) => {
    process.stderr.write(`callbox worker: the gateway connection failed: ${error.message}\n`);
    exit(1);
  });
  const workerId = String(spec.worker_id);
  worker.send({ type: 'hello', worker_id: workerId, pid: process.pid, runtime: 'node' });
  if (spec.inspect && spec.inspect.wait) {
    // --inspect-brk: once hello is out, nothing runs until a debugger attaches and resumes.
    setImmediate(() => {
      worker.outbox.flush();
      require('node:inspector').waitForDebugger();
    });
  }
}

main();
