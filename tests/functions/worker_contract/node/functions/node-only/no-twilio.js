exports.handler = (context, event, callback) => callback(null, new Twilio.twiml.VoiceResponse());
