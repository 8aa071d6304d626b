// Public function: /<namespace>/hello-voice, a voice webhook saying "Hello World".
exports.handler = function (context, event, callback) {
  // Twilio is a global, as in Twilio Functions; TwiML answers with text/xml.
  const twiml = new Twilio.twiml.VoiceResponse();
  twiml.say('Hello World');
  return callback(null, twiml);
};
