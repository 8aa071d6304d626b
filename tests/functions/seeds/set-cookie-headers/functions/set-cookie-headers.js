exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response.setHeaders({
  // You may also set cookie attributes by including a semicolon
  // (`;`) delimited list of attributes
  'set-cookie': ['Foo=Bar;Max-Age=86400', 'Agent=Smith;HttpOnly;Secure'],
});
return callback(null, response);
};
