const byPath = require('../lib/helper.private');

exports.handler = (context, event, callback) => {
  const byRuntime = require(Runtime.getFunctions()['lib/helper'].path);
  return callback(null, { same: byPath === byRuntime, shout: byPath.shout('relative') });
};
