'use strict';
// `Twilio.Response`, and what callback(error, payload) becomes: status, header lines, body.
// The rendering is src/callbox/runtime/response.py's, rule for rule (both workers must answer
// alike); the Response class is Twilio's own (@twilio/runtime-handler), method for method.

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const XML = 'text/xml; charset=utf-8';
const BINARY = 'application/octet-stream';

const SET_COOKIE = 'Set-Cookie';
const MAX_COOKIE_AGE = 86400;
const COOKIE_TOO_OLD = 'Cookies max-age cannot be greater than a day';

class Response {
  constructor(options) {
    this.body = null;
    this.statusCode = 200;
    this.headers = {};
    // As on Twilio: an option is used only when truthy; headers are adopted by reference.
    if (options && options.statusCode) this.statusCode = options.statusCode;
    if (options && options.body) this.body = options.body;
    if (options && options.headers) this.headers = options.headers;
    const cookies = this.headers[SET_COOKIE];
    if (!(SET_COOKIE in this.headers)) this.headers[SET_COOKIE] = [];
    if (!Array.isArray(cookies) && cookies !== undefined) this.headers[SET_COOKIE] = [cookies];
  }

  setStatusCode(statusCode) {
    this.statusCode = statusCode;
    return this;
  }

  setBody(body) {
    this.body = body;
    return this;
  }

  setHeaders(headers) {
    if (typeof headers !== 'object') return this;
    this.headers = {};
    for (const key in headers) this.appendHeader(key, headers[key]);
    return this;
  }

  appendHeader(key, value) {
    this.headers = this.headers || {};
    if (typeof value === 'object' && !Array.isArray(value)) {
      throw new Error('Header value cannot be an object');
    }
    const name = key.toLowerCase() === 'set-cookie' ? SET_COOKIE : key;
    const existing = this.headers[name];
    if (existing) this.headers[name] = [existing, value].flat();
    else this.headers[name] = name === SET_COOKIE && !Array.isArray(value) ? [value] : value;
    if (!(SET_COOKIE in this.headers)) this.headers[SET_COOKIE] = [];
    return this;
  }

  setCookie(key, value, attributes = []) {
    // Joined verbatim, as on Twilio: no encoding, no spaces after ';'.
    const cookie = `${key}=${value}` + (attributes.length > 0 ? `;${attributes.join(';')}` : '');
    return this.appendHeader(SET_COOKIE, cookie);
  }

  removeCookie(key) {
    let cookies = this.headers[SET_COOKIE];
    if (!Array.isArray(cookies)) cookies = [cookies];
    const kept = cookies.filter((c) => typeof c === 'string' && !c.startsWith(`${key}=`));
    kept.push(`${key}=;Max-Age=0`);
    this.headers[SET_COOKIE] = kept;
    return this;
  }
}

/** The response breaks a rule: carries the status and message to send. */
class Rejected extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function result(status, headers, body) {
  return { status, headers, body: body || Buffer.alloc(0) };
}

/** True for TwiML documents of the `twilio` package (any copy of it): VoiceResponse, ... */
function isTwiml(value) {
  for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor && proto.constructor.name === 'TwiML') return true;
  }
  return false;
}

/** callback(null, payload); `domain` is the host cookies are pinned to. */
function renderSuccess(payload, domain) {
  try {
    if (payload instanceof Response) return renderResponse(payload, domain);
    if (payload === null || payload === undefined) return result(200, [], null);
    const [body, type] = encodeBody(payload);
    return result(200, [['Content-Type', type]], body);
  } catch (error) {
    if (!(error instanceof Rejected)) throw error;
    if (error.status === 500) {
      // Why it was refused goes with the 500, for the invocation's ERROR line.
      return { ...renderError(error.message, false), rejected: error.message };
    }
    return result(error.status, [['Content-Type', TEXT]], Buffer.from(error.message));
  }
}

/** callback(error), a thrown exception or a rejected promise: always a 500 with a JSON body. */
function renderError(error, includeStack) {
  let payload;
  if (error instanceof Error || isErrorLike(error)) {
    payload = { message: String(error.message), name: String(error.name) };
    if (includeStack) payload.stack = String(error.stack);
  } else if (typeof error === 'string') {
    payload = { message: error, name: 'Error' };
  } else if (isPlainObject(error)) {
    payload = error;
  } else {
    payload = { message: safeString(error), name: typeName(error) };
  }
  let body;
  try {
    body = dumpJson(payload);
  } catch {
    body = dumpJson({ message: safeString(error), name: 'Error' });
  }
  return result(500, [['Content-Type', JSON_TYPE]], body);
}

function renderResponse(response, domain) {
  const status = response.statusCode;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new Rejected(
      500,
      `The function answered status ${show(status)}; a response status must be 200-599.`,
    );
  }
  const lines = [];
  const host = stripPort(domain);
  for (const [name, value] of Object.entries(response.headers || {})) {
    let values = Array.isArray(value) ? value : [value];
    if (name.toLowerCase() === 'set-cookie') {
      values = values.filter(present).map((cookie) => enforceCookieRules(String(cookie), host));
    }
    for (const item of values) if (present(item)) lines.push([name, String(item)]);
  }
  for (const [name, text] of lines) {
    // A CR or LF would let the function smuggle extra header lines.
    if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(text)) {
      throw new Rejected(500, `Invalid character in response header ${show(name)}`);
    }
  }
  if (!present(response.body)) return result(status, lines, null);
  const [body, type] = encodeBody(response.body);
  if (!lines.some(([name]) => name.toLowerCase() === 'content-type')) {
    lines.push(['Content-Type', type]);
  }
  return result(status, lines, body);
}

/** A non-null body and the Content-Type it implies. */
function encodeBody(value) {
  if (typeof value === 'string') return [Buffer.from(value), TEXT];
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return [Buffer.from(value), BINARY];
  if (value instanceof ArrayBuffer) return [Buffer.from(value), BINARY];
  if (typeof value === 'object' && isTwiml(value)) return [Buffer.from(value.toString()), XML];
  try {
    return [dumpJson(value), JSON_TYPE];
  } catch (error) {
    throw new Rejected(500, `The function's response could not be converted: ${error.message}`);
  }
}

function dumpJson(value) {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`a ${typeName(value)} is not JSON serializable`);
  return Buffer.from(text);
}

/** Twilio's documented cookie limits on one Set-Cookie line, or a Rejected (400). */
function enforceCookieRules(cookie, host) {
  const [pair, ...rawAttributes] = cookie.split(';');
  const attributes = [];
  const seen = new Set();
  let maxAge = null;
  let expires = null;
  for (const raw of rawAttributes) {
    const attribute = raw.trim();
    if (!attribute) continue;
    const at = attribute.indexOf('=');
    const key = (at === -1 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const value = at === -1 ? '' : attribute.slice(at + 1).trim();
    if (key === 'domain') continue; // replaced below by the deployment's own domain
    if (key === 'max-age') maxAge = value; // the last one counts, as in browsers
    else if (key === 'expires') expires = value;
    seen.add(key);
    attributes.push(attribute);
  }
  if (maxAge !== null) {
    if (!/^-?\d+$/.test(maxAge)) {
      throw new Rejected(400, `Cookie has an invalid Max-Age attribute: ${show(maxAge)}`);
    }
    if (Number(maxAge) > MAX_COOKIE_AGE) throw new Rejected(400, COOKIE_TOO_OLD);
  } else if (expires !== null) {
    const when = parseCookieDate(expires);
    if (when === null) {
      throw new Rejected(400, `Cookie has an invalid Expires attribute: ${show(expires)}`);
    }
    if (when - Date.now() > MAX_COOKIE_AGE * 1000) throw new Rejected(400, COOKIE_TOO_OLD);
  }
  if (host) attributes.push(`Domain=${host}`);
  if (!seen.has('httponly')) attributes.push('HttpOnly');
  if (!seen.has('secure')) attributes.push('Secure');
  return [pair.trim(), ...attributes].join(';');
}

// An RFC 2822 / HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"), what Python's email.utils reads.
const COOKIE_DATE = new RegExp(
  [
    '^(?:[A-Za-z]{3},?\\s+)?', // weekday
    '\\d{1,2}[\\s-][A-Za-z]{3}[\\s-]\\d{2,4}', // day month year
    '\\s+\\d{1,2}:\\d{2}(?::\\d{2})?', // time
    '(?:\\s+(?:[A-Za-z]{1,5}|[+-]\\d{4}))?$', // zone
  ].join(''),
);

function parseCookieDate(text) {
  if (!COOKIE_DATE.test(text)) return null;
  const when = Date.parse(/\s[A-Za-z]{1,5}$|[+-]\d{4}$/.test(text) ? text : `${text} GMT`);
  return Number.isNaN(when) ? null : when;
}

function stripPort(domain) {
  const text = String(domain || '');
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    return end === -1 ? text : text.slice(0, end + 1);
  }
  return text.split(':', 1)[0];
}

function present(value) {
  return value !== null && value !== undefined;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isErrorLike(value) {
  // An Error from another realm (vm) or a library's own error class without Error's prototype.
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    typeof value.name === 'string'
  );
}

function typeName(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  return (value.constructor && value.constructor.name) || 'Object';
}

function show(value) {
  // The way Python's repr() shows it, so both workers print the same message.
  return typeof value === 'string' ? `'${value}'` : safeString(value);
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return `<unprintable ${typeName(value)}>`;
  }
}

module.exports = { Response, isTwiml, renderError, renderSuccess };
