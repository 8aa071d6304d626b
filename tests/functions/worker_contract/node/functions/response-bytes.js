exports.handler = (context, event, callback) =>
  callback(null, new Twilio.Response().setBody(Buffer.from([0x89, 0x50, 0x4e, 0x47])));
