exports.handler = (context, event, callback) => callback(null, 42);
