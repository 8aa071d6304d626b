// Public function: /<namespace>/basic-auth, answering only requests that carry
// "Authorization: Basic ..." with the USERNAME and PASSWORD set in .env.
const crypto = require('crypto');

exports.handler = function (context, event, callback) {
  const username = context.USERNAME || '';
  const password = context.PASSWORD || '';
  if (!username || !password) {
    return callback('USERNAME and PASSWORD are not set: add both to .env to use this function.');
  }
  if (!authorized(header(event, 'authorization'), username, password)) {
    // WWW-Authenticate makes browsers ask for a login.
    const response = new Twilio.Response();
    response.setStatusCode(401);
    response.appendHeader('WWW-Authenticate', 'Basic realm="callbox", charset="UTF-8"');
    response.appendHeader('Content-Type', 'text/plain; charset=utf-8');
    response.setBody('Unauthorized: a valid username and password are required.');
    return callback(null, response);
  }
  return callback(null, { message: `Hello ${username}, you are signed in.` });
};

function header(event, name) {
  // A query or body parameter called "request" replaces event.request; then no headers.
  const request = event.request;
  const headers = request && typeof request === 'object' ? request.headers : undefined;
  const value = headers && typeof headers === 'object' ? headers[name] : undefined;
  return typeof value === 'string' ? value : null; // a repeated header (an array) is refused
}

function authorized(value, username, password) {
  const space = (value || '').indexOf(' ');
  const scheme = space < 0 ? value || '' : value.slice(0, space);
  const credentials = space < 0 ? '' : value.slice(space + 1).trim();
  if (scheme.toLowerCase() !== 'basic' || !isBase64(credentials)) {
    return false;
  }
  let decoded;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(
      Buffer.from(credentials, 'base64')
    );
  } catch (error) {
    return false; // not UTF-8
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    return false;
  }
  // Both comparisons always run, in a time that does not depend on the input, so the answer
  // time does not tell whether the username was right.
  const userOk = sameText(decoded.slice(0, colon), username);
  const passwordOk = sameText(decoded.slice(colon + 1), password);
  return userOk && passwordOk;
}

function isBase64(text) {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

function sameText(given, expected) {
  // Digests of equal length, as timingSafeEqual requires.
  const digest = (text) => crypto.createHash('sha256').update(text, 'utf8').digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}
