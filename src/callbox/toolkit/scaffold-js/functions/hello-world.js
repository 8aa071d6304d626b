// Public function: /hello-world, a voice webhook saying "Hello World!" (TwiML <Say>).
exports.handler = function (context, event, callback) {
  const twiml = new Twilio.twiml.VoiceResponse();
  twiml.say('Hello World!');
  callback(null, twiml);
};
