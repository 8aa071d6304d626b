exports.handler = (context, event, callback) => {
  const response = new Twilio.Response();
  response.setCookie('flavor', 'oat', ['Domain=evil.example', 'Path=/']);
  response.setCookie('old', 'x');
  response.removeCookie('old');
  response.setBody('cookies set');
  return callback(null, response);
};
