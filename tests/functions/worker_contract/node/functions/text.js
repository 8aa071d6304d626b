exports.handler = (context, event, callback) => callback(null, 'Hello, text');
