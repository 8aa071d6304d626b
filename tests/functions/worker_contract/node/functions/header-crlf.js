exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.appendHeader('X-Smuggle', 'a\r\nSet-Cookie: evil=1');
  return callback(null, response);
};
