// The JavaScript twin of ../../functions/attack.py: each event.attack tries to get out of the
// sandbox and reports what it got. Every attempt is expected to fail; the test decides.
const fs = require('fs');
const net = require('net');
const { spawn } = require('child_process');

const code = (error) => error.code || error.name;

function attempt(action) {
  try {
    const result = action();
    return result === undefined ? 'done' : result;
  } catch (error) {
    return code(error);
  }
}

const attacks = {
  identity: () => ({
    uid: process.getuid(),
    euid: process.geteuid(),
    gid: process.getgid(),
    groups: process.getgroups(),
  }),

  files: (event) => {
    const found = {};
    for (const [name, path] of Object.entries(JSON.parse(event.read))) {
      found[`read ${name}`] = attempt(() => {
        fs.readFileSync(path);
        return 'read';
      });
    }
    for (const [name, path] of Object.entries(JSON.parse(event.write))) {
      found[`write ${name}`] = attempt(() => {
        fs.appendFileSync(path, 'pwned\n');
        return 'written';
      });
    }
    found.proc = attempt(() =>
      fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).sort((a, b) => a - b));
    return found;
  },

  quota: () => {
    const chunk = Buffer.alloc(1 << 20);
    let written = 0;
    let outcome = 'no limit';
    const fd = fs.openSync('/tmp/fill', 'w');
    try {
      while (written < 1 << 30) {
        fs.writeSync(fd, chunk);
        written += chunk.length;
      }
    } catch (error) {
      outcome = code(error);
    } finally {
      fs.closeSync(fd);
      fs.unlinkSync('/tmp/fill');
    }
    return { written_mb: written >> 20, outcome };
  },

  forkbomb: async (event) => {
    const count = Number(event.count || 500);
    let started = 0;
    let outcome = 'no limit';
    for (let i = 0; i < count; i++) {
      const child = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
      const failed = await new Promise((resolve) => {
        child.once('spawn', () => resolve(null));
        child.once('error', (error) => resolve(error));
      });
      if (failed) {
        outcome = code(failed);
        break;
      }
      started += 1;
    }
    return { started, outcome };
  },

  network: async (event) => {
    const found = {};
    for (const target of JSON.parse(event.targets)) {
      const at = target.lastIndexOf(':');
      const host = target.slice(0, at).replace(/^\[|\]$/g, '');
      const port = Number(target.slice(at + 1));
      found[target] = await new Promise((resolve) => {
        const socket = net.connect({ host, port, timeout: 3000 });
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('timeout', () => {
          socket.destroy();
          resolve('ETIMEDOUT');
        });
        socket.once('error', (error) => resolve(code(error)));
      });
    }
    return found;
  },

  environment: () => ({ ...process.env }),

  signals: (event) => {
    const found = {};
    for (const [name, pid] of Object.entries(JSON.parse(event.pids))) {
      found[name] = attempt(() => {
        process.kill(pid, 0);
      });
    }
    return found;
  },

  memory: (event) => {
    const block = Buffer.alloc(Number(event.mb) << 20, 1); // filled: resident, not reserved
    return { allocated_mb: block.length >> 20 };
  },

  // Lines meant to pass for the server's own in its output (below console: the raw fds).
  forge: (event) => {
    const fs = require('fs');
    fs.writeSync(1, `${event.line}\n`);
    fs.writeSync(2, `${event.line}\n`);
    return { written: true };
  },
};

exports.handler = async (context, event, callback) => {
  callback(null, await attacks[event.attack](event));
};
