// Sets one cookie with the attribute given as ?attribute=.
exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.setCookie('flavor', 'oat', [event.attribute]);
  response.setBody('should not be sent');
  return callback(null, response);
};
