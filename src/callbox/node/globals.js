'use strict';
// The globals every function sees, as on Twilio: `Twilio` (the `twilio` package plus
// `Twilio.Response`), `Response`, `Runtime`, `Functions` and `twilioClient`.
// A worker serves one build, so they are installed once per process.

const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Response } = require('./response');
const { validCredentials, twilioClient } = require('./context');
const logs = require('./logs');

/**
 * Make the build's packages reachable: `require()` looks in the function's own node_modules
 * folders first, then in these (each a folder that contains packages, like NODE_PATH's).
 */
function addPackageFolders(folders) {
  const extra = folders.filter(Boolean);
  if (!extra.length) return;
  const current = process.env.NODE_PATH ? process.env.NODE_PATH.split(path.delimiter) : [];
  process.env.NODE_PATH = [...extra, ...current].join(path.delimiter);
  // Undocumented but stable since Node 0.x: re-reads NODE_PATH into the global search paths.
  Module._initPaths();
}

/** The `twilio` package a function of the build would get, loaded on first use. */
function twilioLoader(root) {
  const requireFromRoot = Module.createRequire(path.join(root, 'package.json'));
  let twilio;
  const load = () => {
    if (twilio === undefined) {
      try {
        twilio = requireFromRoot('twilio');
      } catch (error) {
        if (error.code !== 'MODULE_NOT_FOUND' || !/'twilio'/.test(error.message)) throw error;
        throw new Error(
          'The twilio package is not installed for this build: add "twilio" to the ' +
            "dependencies in package.json (Twilio's own default dependency).",
        );
      }
    }
    return twilio;
  };
  load.available = () => {
    try {
      requireFromRoot.resolve('twilio');
      return true;
    } catch {
      return false;
    }
  };
  return load;
}

/** `Twilio`: the twilio package's exports plus Response, without loading twilio until used. */
function twilioGlobal(loadTwilio) {
  const own = { Response };
  const target = () => loadTwilio();
  return new Proxy(own, {
    get: (_, key) => (key in own ? own[key] : target()[key]),
    has: (_, key) => key in own || key in target(),
    ownKeys: () => [...new Set([...Reflect.ownKeys(target()), ...Reflect.ownKeys(own)])],
    getOwnPropertyDescriptor: (_, key) => {
      if (key in own) return Reflect.getOwnPropertyDescriptor(own, key);
      const found = Reflect.getOwnPropertyDescriptor(target(), key);
      if (found === undefined) return undefined;
      return { value: target()[key], writable: true, enumerable: true, configurable: true };
    },
    set: (_, key, value) => {
      own[key] = value;
      return true;
    },
  });
}

/** `Runtime`: this build's private assets and functions; Sync is not there yet. */
function makeRuntime(spec) {
  const assets = {};
  for (const [route, entry] of Object.entries(spec.assets || {})) {
    if (entry.visibility !== 'private') continue;
    const file = path.resolve(spec.root, entry.file);
    assets[route] = { path: file, open: () => fs.readFileSync(file, 'utf8') };
  }
  const functions = {};
  for (const [route, entry] of Object.entries(spec.functions || {})) {
    functions[route.replace(/^\//, '')] = { path: path.resolve(spec.root, entry.file) };
  }
  return {
    getAssets: () => ({ ...assets }),
    getFunctions: () => ({ ...functions }),
    getSync() {
      throw new Error(
        'Runtime.getSync() is not available yet: callbox does not ship Sync. ' +
          'Keep shared state in an external store for now.',
      );
    },
  };
}

function install(spec, loadTwilio) {
  const runtime = makeRuntime(spec);
  Object.assign(globalThis, {
    Twilio: twilioGlobal(loadTwilio),
    Response,
    Runtime: runtime,
    Functions: runtime.getFunctions(),
  });
  // A client for the invocation's own credentials (they are per environment), when valid.
  Object.defineProperty(globalThis, 'twilioClient', {
    configurable: true,
    get() {
      const invocation = logs.current();
      if (!invocation || !validCredentials(invocation.variables) || !loadTwilio.available()) {
        return undefined;
      }
      invocation.client ??= twilioClient(
        invocation.variables.ACCOUNT_SID,
        invocation.variables.AUTH_TOKEN,
        {},
        loadTwilio,
      );
      return invocation.client;
    },
  });
  return runtime;
}

module.exports = { addPackageFolders, install, makeRuntime, twilioLoader };
