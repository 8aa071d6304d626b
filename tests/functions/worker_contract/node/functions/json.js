exports.handler = (context, event, callback) =>
  callback(null, { kind: 'json', items: [1, 2], nested: { ok: true, none: null } });
