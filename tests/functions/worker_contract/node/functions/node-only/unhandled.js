// A rejected promise nobody handles (the handler does not return it).
exports.handler = () => {
  Promise.reject(new Error('rejected and unhandled'));
};
