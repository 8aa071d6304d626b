exports.handler = (context, event, callback) => {
  callback(null, 'version 1');
};
