exports.handler = (context, event, callback) =>
  callback(null, new Twilio.Response().setStatusCode(parseInt(event.status, 10)));
