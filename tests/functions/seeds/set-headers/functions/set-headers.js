exports.handler = (context, event, callback) => {
const response = new Twilio.Response();
response.setHeaders({
  // Set a single header
  'content-type': 'application/json',
  // You can set a header with multiple values by providing an array
  'cache-control': ['no-cache', 'private'],
  // You may also optionally set cookies via the "Set-Cookie" key
  'set-cookie': 'Foo=Bar',
});
return callback(null, response);
};
