exports.handler = (context, event, callback) => {
  callback(null, 'x'.repeat(5 * 1024 * 1024));
};
