exports.handler = () => {
  for (;;) {
    // never yields: the worker's event loop is blocked
  }
};
