// Waits ?ms= milliseconds, then answers with ?tag=.
exports.handler = async (context, event, callback) => {
  await new Promise((resolve) => setTimeout(resolve, Number(event.ms)));
  return callback(null, { tag: event.tag });
};
