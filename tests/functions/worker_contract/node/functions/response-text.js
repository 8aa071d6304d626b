exports.handler = (context, event, callback) =>
  callback(null, new Twilio.Response().setStatusCode(200).setBody('This is fine'));
