exports.handler = (context, event, callback) => {
  process.emitWarning('this API is deprecated', 'DeprecationWarning');
  setImmediate(() => callback(null, 'warned'));
};
