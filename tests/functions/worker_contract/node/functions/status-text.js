// A status given as text is not a status.
exports.handler = (context, event, callback) =>
  callback(null, new Twilio.Response().setStatusCode('201'));
