// Twilio.Response as @twilio/runtime-handler's own tests describe it.
exports.handler = (context, event, callback) => {
  const fresh = new Twilio.Response();
  const options = new Twilio.Response({
    headers: { A: '1', 'Set-Cookie': 'Hi=Bye' },
    body: 'Error',
    statusCode: 400,
  });
  const lower = new Twilio.Response().setHeaders({ 'set-cookie': ['a=1', 'b=2'] });
  const kept = new Twilio.Response().setHeaders({ X: 'y' }).setHeaders(undefined);
  const appended = new Twilio.Response()
    .appendHeader('Access-Control-Allow-Origin', 'dkundel.com')
    .appendHeader('Access-Control-Allow-Origin', 'philna.sh')
    .appendHeader('Access-Control-Allow-Methods', 'GET')
    .appendHeader('Access-Control-Allow-Methods', 'DELETE')
    .appendHeader('Access-Control-Allow-Methods', ['PUT', 'POST']);
  const cookies = new Twilio.Response()
    .setCookie('Hello', 'World', ['HttpOnly', 'Secure', 'SameSite=Strict', 'Max-Age=86400'])
    .setCookie('name', 'value');
  const removed = new Twilio.Response()
    .setCookie('Hello', 'World', ['HttpOnly'])
    .removeCookie('Hello');
  let objectError = null;
  try {
    new Twilio.Response().appendHeader('X', {});
  } catch (error) {
    objectError = error.message;
  }
  return callback(null, {
    fresh: [fresh.statusCode, fresh.body, fresh.headers],
    options: [options.statusCode, options.body, options.headers],
    lower: lower.headers,
    kept: kept.headers,
    appended: appended.headers,
    cookies: cookies.headers,
    removed: removed.headers,
    objectError,
  });
};
