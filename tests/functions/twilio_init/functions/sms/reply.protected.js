exports.handler = function(context, event, callback) {
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message('Hello World!');
  callback(null, twiml);
};
