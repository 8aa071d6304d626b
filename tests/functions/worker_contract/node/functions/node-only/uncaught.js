// An exception thrown by a timer callback, which nothing can catch.
exports.handler = () => {
  setTimeout(() => {
    throw new Error('boom from a timer');
  }, 10);
};
