// Logs ?tag= before and after waiting, so concurrent invocations interleave.
exports.handler = async (context, event, callback) => {
  console.log(`${event.tag} start`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`${event.tag} end`);
  return callback(null, event.tag);
};
