exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.appendHeader('Content-Type', 'application/json').setBody({ everything: 'is alright' });
  return callback(null, response);
};
