// Not an async function, but it returns a promise chain that rejects.
exports.handler = (context, event, callback) =>
  Promise.resolve(event).then(() => {
    throw new TypeError('rejected chain');
  });
