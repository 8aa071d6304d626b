const { randomUUID } = require('node:crypto');

// Made once per worker process (a module is loaded once per worker): who answered.
const WORKER = randomUUID();

exports.handler = (context, event, callback) => {
  callback(null, { worker: WORKER });
};
