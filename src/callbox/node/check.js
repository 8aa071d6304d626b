'use strict';
// `node check.js FILE...`: compile each function file as Node's CommonJS loader does (the
// same wrapper parameters), without running any of it, and print one JSON array:
// [{file, ok, line, message}]. The build uses it for what `node --check` tells, in one process.

const fs = require('node:fs');
const vm = require('node:vm');

const PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname'];

function check(file) {
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (error) {
    return { file, ok: false, line: 0, message: `cannot be read (${error.code || error.message})` };
  }
  try {
    vm.compileFunction(source, PARAMETERS, { filename: file });
    return { file, ok: true, line: 0, message: '' };
  } catch (error) {
    // The first line of the stack is "file:line" for a syntax error.
    const where = /:(\d+)\s*$/.exec(String(error.stack || '').split('\n')[0]);
    const message = `${error.name || 'Error'}: ${error.message}`;
    return { file, ok: false, line: where ? Number(where[1]) : 0, message };
  }
}

process.stdout.write(JSON.stringify(process.argv.slice(2).map(check)));
