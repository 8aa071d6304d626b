exports.handler = (context, event, callback) => {
  const twiml = new Twilio.twiml.VoiceResponse();
  twiml.hangup();
  return callback(null, new Twilio.Response().setStatusCode(202).setBody(twiml));
};
