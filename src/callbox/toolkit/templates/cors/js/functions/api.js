// Public function: /<namespace>/api?name=Ada -> {"message": "Hello Ada!"}, a JSON API that web
// pages served from ALLOWED_ORIGIN (in .env) may call with fetch().
exports.handler = function (context, event, callback) {
  // Twilio.Response lets us add headers.
  const response = new Twilio.Response();
  const origin = header(event, 'origin');
  const allowed = allowedOrigin(context.ALLOWED_ORIGIN || '', origin);
  if (allowed !== null) {
    response.appendHeader('Access-Control-Allow-Origin', allowed);
  }
  if (allowed !== '*') {
    // The answer depends on the Origin header: caches must not share it between origins.
    response.appendHeader('Vary', 'Origin');
  }
  response.appendHeader('Content-Type', 'application/json');
  const name = typeof event.name === 'string' && event.name.trim() ? event.name.trim() : 'World';
  response.setBody({ message: `Hello ${name}!` });
  return callback(null, response);
};

// The Access-Control-Allow-Origin value: "*", the caller's origin if listed, or null.
function allowedOrigin(setting, origin) {
  const allowed = setting
    .split(',')
    .map((item) => item.trim().replace(/\/+$/, ''))
    .filter((item) => item);
  if (allowed.includes('*')) {
    return '*';
  }
  if (origin !== null && allowed.includes(origin.replace(/\/+$/, ''))) {
    return origin;
  }
  return null;
}

function header(event, name) {
  // A query or body parameter called "request" replaces event.request; then no headers.
  const request = event.request;
  const headers = request && typeof request === 'object' ? request.headers : undefined;
  const value = headers && typeof headers === 'object' ? headers[name] : undefined;
  return typeof value === 'string' ? value : null;
}
