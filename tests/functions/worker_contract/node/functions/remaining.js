exports.handler = (context, event, callback) => {
  const remaining = context.getRemainingTime();
  callback(null, { remaining, alias: context.getRemainingTime() });
};
