exports.handler = (context, event, callback) => {
const twiml = new Twilio.twiml.VoiceResponse()
twiml.dial().sip("sip:jack@example.com")
return callback(null, twiml);
}
