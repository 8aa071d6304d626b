exports.handler = (context, event, callback) =>
  callback(null, new Twilio.Response().setStatusCode(204));
