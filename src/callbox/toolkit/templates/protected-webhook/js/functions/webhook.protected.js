// Protected function: /<namespace>/webhook, a webhook that only Twilio can call.
//
// callbox checks the request's X-Twilio-Signature against AUTH_TOKEN (from .env) before this
// handler runs: a request without a valid signature is answered 403 and never gets here.
exports.handler = function (context, event, callback) {
  const parameters = Object.keys(event)
    .filter((key) => key !== 'request')
    .sort();
  console.log(`Signed webhook received with parameters: ${parameters.join(', ') || 'none'}`);
  return callback(null, { received: true, parameters });
};
