// Public function: /<namespace>/blank. Replace the body with your own code.
exports.handler = function (context, event, callback) {
  // context: every variable of .env (context.MY_VARIABLE), plus DOMAIN_NAME and PATH;
  //   context.getTwilioClient() returns a Twilio REST client (it needs ACCOUNT_SID and
  //   AUTH_TOKEN in .env).
  // event: the query string and the form or JSON body merged into one object (body keys
  //   win), plus event.request with the request's headers (lower-case names) and cookies.
  // callback(error, response): call it once; execution ends there. callback(null, value)
  //   answers with value: a string is text, an object or array is JSON, TwiML is XML and a
  //   Twilio.Response sets the status, headers and body. callback(error) answers 500.
  // The handler may be async: `exports.handler = async (context, event, callback) => {...}`.
  return callback(null, {});
};
