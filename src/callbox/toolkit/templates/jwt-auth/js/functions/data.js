// Public function: /<namespace>/data, answering only requests with
// "Authorization: Bearer <token>" where the token comes from /<namespace>/login (or anyone
// else holding JWT_SECRET). A missing, forged or expired token gets 401.
const jwt = require('jsonwebtoken'); // listed in package.json: the build installs it

const ISSUER = 'callbox-jwt-auth';
const MIN_SECRET_LENGTH = 32;

exports.handler = function (context, event, callback) {
  const secret = context.JWT_SECRET || '';
  // An empty or short key would make tokens easy to forge: refuse to run without one.
  if (secret.length < MIN_SECRET_LENGTH) {
    return callback(`Set JWT_SECRET (at least ${MIN_SECRET_LENGTH} random characters) in .env.`);
  }
  const token = bearerToken(event);
  if (token === null) {
    return callback(null, unauthorized("Send the token as 'Authorization: Bearer <token>'."));
  }
  let claims;
  try {
    // Checks the HS256 signature with JWT_SECRET, the issuer and the exp and nbf times; the
    // algorithm is fixed, so an unsigned ("none") token is refused.
    claims = jwt.verify(token, secret, { algorithms: ['HS256'], issuer: ISSUER });
  } catch (error) {
    return callback(null, unauthorized(`The token is not valid: ${error.message}.`));
  }
  if (typeof claims !== 'object' || claims.exp === undefined) {
    return callback(null, unauthorized('The token has no expiry time.'));
  }
  return callback(null, { message: `Hello ${claims.sub || 'there'}!`, expires: claims.exp });
};

function bearerToken(event) {
  // A query or body parameter called "request" replaces event.request; then no headers.
  const request = event.request;
  const headers = request && typeof request === 'object' ? request.headers : undefined;
  const value = headers && typeof headers === 'object' ? headers.authorization : undefined;
  if (typeof value !== 'string') {
    return null; // missing, or repeated (an array)
  }
  const space = value.indexOf(' ');
  const scheme = space < 0 ? value : value.slice(0, space);
  const token = space < 0 ? '' : value.slice(space + 1).trim();
  return scheme.toLowerCase() === 'bearer' && token ? token : null;
}

function unauthorized(description) {
  const response = new Twilio.Response();
  response.setStatusCode(401);
  response.appendHeader('WWW-Authenticate', 'Bearer realm="callbox", error="invalid_token"');
  response.appendHeader('Content-Type', 'application/json');
  response.setBody({ error: 'invalid_token', error_description: description });
  return response;
}
