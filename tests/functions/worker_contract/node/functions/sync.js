exports.handler = (context, event, callback) => {
  Runtime.getSync();
  return callback(null, 'unreachable');
};
