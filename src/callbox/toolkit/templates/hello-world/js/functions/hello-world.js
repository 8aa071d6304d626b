// Public function: GET /<namespace>/hello-world -> "Hello World!" as plain text.
exports.handler = function (context, event, callback) {
  // A string answers with Content-Type text/plain.
  return callback(null, 'Hello World!');
};
