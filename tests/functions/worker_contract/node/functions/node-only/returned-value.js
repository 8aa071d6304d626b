// On Twilio only callback() answers: a value the handler resolves to is ignored.
exports.handler = async () => 'not an answer';
