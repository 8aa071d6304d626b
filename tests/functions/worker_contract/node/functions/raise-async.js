class AsyncFailure extends Error {}
AsyncFailure.prototype.name = 'AsyncFailure';

exports.handler = async () => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  throw new AsyncFailure('async failure');
};
