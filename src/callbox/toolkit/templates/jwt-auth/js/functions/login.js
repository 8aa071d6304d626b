// Public function: POST /<namespace>/login with `password` -> a JSON Web Token (HS256).
//
// A demo sign-in: the password is PASSWORD from .env; the token is signed with JWT_SECRET and
// is what /<namespace>/data asks for in "Authorization: Bearer <token>".
const crypto = require('crypto');
const jwt = require('jsonwebtoken'); // listed in package.json: the build installs it

const ISSUER = 'callbox-jwt-auth';
const TOKEN_SECONDS = 3600;
const MIN_SECRET_LENGTH = 32;

exports.handler = function (context, event, callback) {
  const secret = context.JWT_SECRET || '';
  const password = context.PASSWORD || '';
  if (secret.length < MIN_SECRET_LENGTH || !password) {
    return callback(
      `Set PASSWORD and JWT_SECRET (at least ${MIN_SECRET_LENGTH} random characters) in ` +
        '.env to issue tokens.'
    );
  }
  const given = event.password;
  if (typeof given !== 'string' || !sameText(given, password)) {
    const response = new Twilio.Response();
    response.setStatusCode(401);
    response.appendHeader('Content-Type', 'application/json');
    response.setBody({ error: 'invalid_grant', error_description: 'Wrong password.' });
    return callback(null, response);
  }
  const subject =
    typeof event.username === 'string' && event.username ? event.username : 'demo';
  const token = jwt.sign({}, secret, {
    algorithm: 'HS256',
    issuer: ISSUER,
    subject,
    notBefore: 0,
    expiresIn: TOKEN_SECONDS,
  });
  return callback(null, { token, token_type: 'Bearer', expires_in: TOKEN_SECONDS });
};

function sameText(given, expected) {
  // Digests of equal length, as timingSafeEqual requires: the time says nothing of the input.
  const digest = (text) => crypto.createHash('sha256').update(text, 'utf8').digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}
