'use strict';
// Load a function file and find its handler, with errors that say exactly what went wrong.
// Files are loaded with require(), so a function, and the same file required by another
// (Runtime.getFunctions()['lib/x'].path), are one module, loaded once per worker.

const path = require('node:path');

/** The function cannot run: its file failed to load or exports no `handler`. */
class LoadError extends Error {
  constructor(message, stack) {
    super(message);
    this.name = 'LoadError';
    this.stack = stack ? `${this.name}: ${message}\n${stack}` : `${this.name}: ${message}`;
  }
}

class Loader {
  constructor(spec) {
    this.root = spec.root;
    this.files = {};
    for (const [route, entry] of Object.entries(spec.functions || {})) {
      this.files[route] = path.resolve(spec.root, entry.file);
    }
    this.handlers = new Map(); // route -> handler, or the LoadError it gave (kept too)
  }

  /** The handler of the function at `route`; throws a LoadError. */
  handler(route) {
    let found = this.handlers.get(route);
    if (found === undefined) {
      try {
        found = this.load(route);
      } catch (error) {
        found = error instanceof LoadError ? error : failed(this.shown(route), error);
      }
      this.handlers.set(route, found);
    }
    if (found instanceof LoadError) throw found;
    return found;
  }

  load(route) {
    const file = this.files[route];
    if (file === undefined) {
      throw new LoadError(`This build has no function at ${route}.`);
    }
    const exported = require(file);
    const handler = exported === null || exported === undefined ? undefined : exported.handler;
    if (typeof handler === 'function') return handler;
    const names = exported && typeof exported === 'object' ? Object.keys(exported).sort() : [];
    const found = names.length ? names.join(', ') : 'nothing';
    const what = handler === undefined ? 'no `handler`' : 'a `handler` that is not callable';
    throw new LoadError(
      `${this.shown(route)} has ${what}; found: ${found}. ` +
        'Define `exports.handler = function (context, event, callback) {...}` (or an async one).',
    );
  }

  shown(route) {
    const file = this.files[route] || route;
    const relative = path.relative(this.root, file);
    return relative.startsWith('..') ? file : relative;
  }
}

function failed(shown, error) {
  const name = (error && error.name) || typeof error;
  let message = String(error && error.message !== undefined ? error.message : error);
  message = message.split('\n')[0]; // "Cannot find module 'x'" without Node's require stack
  if (error instanceof SyntaxError) {
    const line = /:(\d+)\s*$/m.exec(String(error.stack).split('\n')[0]);
    if (line) message += ` (line ${line[1]})`;
  }
  return new LoadError(`${shown} failed to import: ${name}: ${message}`, error && error.stack);
}

module.exports = { LoadError, Loader };
